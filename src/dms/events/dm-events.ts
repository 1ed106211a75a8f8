/** Events the dms write side emits after a write is durable (the SSE stream listens). */
export const DM_CHANGED = 'dm.changed';
export interface DmChangedEvent {
  userId: string;
  accountId: string;
  dmId: string;
  conversationId: string;
  /** 'deleted': the document is gone (hard delete, or the purge of a removed account). */
  change: 'created' | 'updated' | 'deleted';
  /** The stored document, when the writer has it whole (a new DM): listeners need not read it. */
  dm?: unknown;
}

export const CONVERSATION_CHANGED = 'conversation.changed';
export interface ConversationChangedEvent {
  userId: string;
  accountId: string;
  conversationId: string;
  /** The thread as the write left it, when the writer has it: listeners need not read it. */
  conversation?: unknown;
}
