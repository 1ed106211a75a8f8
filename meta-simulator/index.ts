/**
 * Meta simulator: a local stand-in for Instagram Messaging (graph.instagram.com,
 * api.instagram.com, www.instagram.com OAuth, the lookaside CDN and signed webhooks).
 * Speaks only Meta's wire format; never imports igdm code.
 */
export {
  MetaSimulator,
  startMetaSimulator,
  type DeliverOptions,
  type DeliveryFilter,
  type MetaSimulatorOptions,
  type RequestFilter,
  type RequestRecord,
  type SentMessage,
  type TriggerResultWithDelivery,
} from './server';
export {
  Customer,
  type ActionOptions,
  type ActionResult,
  type CommentResult,
  type CommentOptions,
  type SendableType,
} from './customer';
export type { AuthorizationDecision, FeatureLimits } from './context';
export type {
  Business,
  CustomerRecord,
  MessageRecord,
  Thread,
  TokenRecord,
  CommentRecord,
} from './state';
export { SimState, SimClock, KNOWN_FIELDS, DEFAULT_APP_FIELDS, ALL_SCOPES } from './state';
export type { Fault, FaultSpec, FaultEndpoint, Endpoint } from './faults';
export type { Budget } from './ratelimit';
export { GraphError, type MetaErrorSpec } from './errors';
export {
  decodeMid,
  decodeConversationId,
  encodeMid,
  encodeConversationId,
  metaEscapeBase64,
  metaUnescapeBase64,
  type DecodedMid,
  type DecodedConversationId,
} from './ids';
export { metaStringify, metaEscapeString, RawJsonNumber } from './serialize';
export {
  envelope,
  messagingElement,
  REACTION_EMOJI,
  type WebhookEvent,
  type ReactionName,
} from './events';
export {
  signBody,
  postSigned,
  type DeliveryRecord,
  type DeliveryAttempt,
  type DeliveryStatus,
  type WaitMode,
} from './webhooks';
export {
  buildTrigger,
  isTriggerKind,
  TRIGGER_KINDS,
  TRIGGER_FIXTURES,
  type TriggerKind,
  type TriggerOptions,
  type TriggerResult,
} from './triggers';
export { runLoad, type LoadOptions, type LoadProgress, type LoadSummary } from './load';
