/**
 * smsgate/receiver: the receiver SDK, which is published on its own as smsgate-receiver
 * (packages/receiver/). Re-exported here so that imports of 'smsgate/receiver' keep working.
 */
export * from 'smsgate-receiver';
