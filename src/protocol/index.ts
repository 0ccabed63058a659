export * from './events.ts';
export * from './webhooks.ts';
export * from './messages.ts';
export * from './settings.ts';
export * from './errors.ts';
export * from './signing.ts';
export * from './mobile.ts';
export * from './deliveries.ts';
