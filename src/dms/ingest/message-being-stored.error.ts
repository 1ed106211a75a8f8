/**
 * An event's message is being stored right now (claimed on the ledger, document not yet
 * written): its delivery fails this attempt and is retried, when the document is there.
 */
export class MessageBeingStoredError extends Error {
  constructor() {
    super('the message this event is about is being stored; retried shortly');
    this.name = 'MessageBeingStoredError';
  }
}
