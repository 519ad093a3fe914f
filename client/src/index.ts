/** @notification-service/client: the socket.io SDK (see ./sock, ./sse and ./api for the others). */
export { createClient, NotifyClient, type ClientOptions, type ClientEvents, type ConnectEvent, type PublishOptions } from './client.js';
export { Subscription, type SubscribeOptions, type SubscribedEvent, type SubscriptionEvents } from './subscription.js';
export { NotifyError } from './errors.js';
export { SERVICE_ERROR_CODES, CLIENT_ERROR_CODES, isTemporary, type NotifyErrorCode, type ServiceErrorCode, type ClientErrorCode } from './codes.js';
export type { Position, ResetEvent, ResetReason } from './cursor.js';
export type { MessageMeta, NotifyMessage, PresenceNotice, PublishResult, RoomNamespace } from './types.js';
export { tokenExpiry, type TokenGetter, type TokenOptions } from './token.js';
