import type { Clock } from '../shared/clock.ts';
import type { LoginThrottle } from '../shared/login-throttle.ts';
import type { ServerStore } from './store/store.ts';
import type { PushHub } from './push/hub.ts';
import type { UsersService } from './users/service.ts';
import type { DevicesService } from './devices/service.ts';
import type { MessagesService } from './messages/service.ts';
import type { WebhooksService } from './webhooks/service.ts';
import type { SettingsService } from './settings/service.ts';
import type { HealthService } from './health/service.ts';
import type { DeliveriesService } from './deliveries/service.ts';
import type { ServerObservability } from './observability.ts';
import type { AccessTokens } from '../shared/access-tokens.ts';
import type { OpenStreams } from './push/open-streams.ts';

/** Everything the routes need, built once per server by createServer. */
export interface ServerContext {
  store: ServerStore;
  hub: PushHub;
  clock: Clock;
  /** public (Cloud) mode: device registration is open and signing keys cannot be set */
  publicMode: boolean;
  /** private mode: what `POST /mobile/v1/device` requires as Bearer (unless Basic auth of a user is given) */
  privateToken: string | undefined;
  /** how often an idle SSE stream gets a keep-alive comment */
  keepAliveMs: number;
  /** failed logins (Basic, device token, private token, current password) per client address */
  loginThrottle: LoginThrottle;
  users: UsersService;
  devices: DevicesService;
  messages: MessagesService;
  webhooks: WebhooksService;
  settings: SettingsService;
  health: HealthService;
  /** the deliveries devices report, and the live stream of their activity */
  deliveries: DeliveriesService;
  /** the 3rdparty API's access tokens (JWT) */
  tokens: AccessTokens;
  /** the event streams open on this node, ended when the credentials that opened them stop counting */
  openStreams: OpenStreams;
  /** metrics, and the streams held open */
  observability: ServerObservability;
}
