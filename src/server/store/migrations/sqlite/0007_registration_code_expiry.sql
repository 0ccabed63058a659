-- Expired registration codes are pruned by their valid_until; the index keeps that a range read.
CREATE INDEX registration_codes_by_expiry ON registration_codes (valid_until);
