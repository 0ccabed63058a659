-- The health document each device reports (PUT /mobile/v1/device/health), shown with the device.

ALTER TABLE devices ADD COLUMN health TEXT;
ALTER TABLE devices ADD COLUMN health_reported_at INTEGER;
