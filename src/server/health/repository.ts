/** What the health checks ask of the store. */
export interface HealthRepository {
  /** a round trip to the database; throws when it is unreachable */
  ping(): Promise<void>;
}
