import type { mongo } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import type { TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import {
  eventually,
  messagingBody,
  newMid,
  postWebhook,
  startAppWithSimulator,
} from './webhook-helpers';

type Collection = mongo.Collection<mongo.Document>;

/** Webhook events of one message arriving out of order, twice, or failing on the way (e2e). */
describe('Out-of-order and repeated message events (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;
  let dms: Collection;
  let convs: Collection;

  beforeAll(async () => {
    ({ app, meta } = await startAppWithSimulator());
    dms = app.connection.db!.collection('instagram_dms');
    convs = app.connection.db!.collection('instagram_conversations');
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const post = (body: string) => postWebhook(app, body).expect(200);

  const connectedBusiness = () => givenTenant(app, meta);

  /** A text-less message_edit (num_edit > 0) makes igdm read the new text from Graph: also when the edit came before its message, when the first read fails, and the thread preview follows. */
  describe('Text-less edits', () => {
    /** A message Meta knows (Graph returns `edited`), whose webhooks we post ourselves. */
    async function editedMessage() {
      const { biz, account } = await connectedBusiness();
      const c = meta.customer(biz);
      const drop = meta.dropDeliveries();
      const sent = await c.sends('original');
      await c.edits(sent.mid!, 'edited');
      drop.clear();
      const mid = sent.mid!;
      const messageBody = sent.delivery.body;
      const editBody = messagingBody(biz.igId, [
        {
          sender: { id: c.igsid },
          recipient: { id: biz.igId },
          timestamp: Date.now() + 1000,
          message_edit: { mid, num_edit: 1 },
        },
      ]);
      return { mid, messageBody, editBody, key: `${account.accountId}:${mid}` };
    }

    it('should read the new text from Graph after a text-less edit', async () => {
      const { mid, messageBody, editBody } = await editedMessage();
      await post(messageBody);
      await eventually(() => dms.findOne({ message_id: mid, text: 'original' }));
      await post(editBody);
      await eventually(() => dms.findOne({ message_id: mid, text: 'edited' }), 10_000);
    });

    it('should read the new text when the edit came before its message', async () => {
      const { mid, messageBody, editBody, key } = await editedMessage();
      await post(editBody);
      await eventually(() =>
        app.connection
          .db!.collection('instagram_dm_ids')
          .findOne({ _id: key as never, pending: { $exists: true } }),
      );
      await post(messageBody);
      await eventually(() => dms.findOne({ message_id: mid, edit_count: 1 }));
      const dm = await eventually(() => dms.findOne({ message_id: mid, text: 'edited' }), 10_000);
      expect({ text: dm.text, edit_text_pending: dm.edit_text_pending }).toEqual({
        text: 'edited',
        edit_text_pending: undefined,
      });
    });

    it('should read the new text again when the first read failed (transient 5xx)', async () => {
      const { mid, messageBody, editBody } = await editedMessage();
      await post(messageBody);
      await eventually(() => dms.findOne({ message_id: mid, text: 'original' }));
      // Transient: every attempt of the first refetch fails, then Graph is healthy again.
      const fault = meta.fault({ endpoint: 'message', status5xx: 503, times: 3 });
      await post(editBody);
      await eventually(() => Promise.resolve(fault.hits >= 3));
      const dm = await eventually(() => dms.findOne({ message_id: mid, text: 'edited' }), 10_000);
      expect({ text: dm.text, edit_text_pending: dm.edit_text_pending }).toEqual({
        text: 'edited',
        edit_text_pending: undefined,
      });
    });

    it('should show the new text in the thread preview', async () => {
      const { mid, messageBody, editBody } = await editedMessage();
      await post(messageBody);
      const dm0 = await eventually(() => dms.findOne({ message_id: mid, text: 'original' }));
      const convId = `${dm0.platform_account_id}:${dm0.customer_id}`;
      await eventually(() =>
        convs.findOne({ _id: convId as never, 'last_message.preview': 'original' }),
      );
      await post(editBody);
      await eventually(() => dms.findOne({ message_id: mid, text: 'edited' }), 10_000);
      const conv = await eventually(() =>
        convs.findOne({ _id: convId as never, 'last_message.preview': 'edited' }),
      );
      expect(conv.last_message).toMatchObject({ message_id: mid, preview: 'edited' });
    });
  });

  /** A react and the unreact that followed it: the newer one wins whichever is processed last or delivered again. */
  describe('Reactions in any order', () => {
    async function thread() {
      const { biz } = await connectedBusiness();
      const customer = '7' + String(Date.now()).slice(-12) + String(Math.random()).slice(2, 5);
      const ev = (ts: number, extra: Record<string, unknown>) =>
        messagingBody(biz.igId, [
          { sender: { id: customer }, recipient: { id: biz.igId }, timestamp: ts, ...extra },
        ]);
      return { biz, customer, ev };
    }
    const react = (mid: string) => ({
      reaction: { mid, action: 'react', reaction: 'love', emoji: '\u2764\ufe0f' },
    });
    const unreact = (mid: string) => ({ reaction: { mid, action: 'unreact' } });
    const processed = (body: string) =>
      eventually(() =>
        app.connection
          .db!.collection('webhook_deliveries')
          .findOne({ raw_body: body, status: 'processed' }),
      );

    it('should keep the reaction removed when Meta delivers the earlier react again after the unreact', async () => {
      const { ev } = await thread();
      const mid = newMid();
      const t = Date.now();
      await post(ev(t, { message: { mid, text: 'hello' } }));
      await eventually(() => dms.findOne({ message_id: mid }));
      const reactBody = ev(t + 1000, react(mid));
      await post(reactBody);
      await eventually(() => dms.findOne({ message_id: mid, 'reactions.0': { $exists: true } }));
      await post(ev(t + 2000, unreact(mid)));
      await eventually(() => dms.findOne({ message_id: mid, reactions: { $size: 0 } }));
      // Meta retries the react delivery (its first attempt timed out on Meta's side).
      await post(reactBody);
      await eventually(
        async () =>
          (await app.connection
            .db!.collection('webhook_deliveries')
            .countDocuments({ raw_body: reactBody, status: 'processed' })) === 2,
      );
      const dm = await dms.findOne({ message_id: mid });
      expect(dm!.reactions ?? []).toEqual([]);
    });

    it('should keep the reaction removed when the newer unreact is processed before the older react', async () => {
      const { ev } = await thread();
      const mid = newMid();
      const t = Date.now();
      await post(ev(t, { message: { mid, text: 'hello' } }));
      await eventually(() => dms.findOne({ message_id: mid }));
      const un = ev(t + 2000, unreact(mid));
      await post(un);
      await processed(un);
      const re = ev(t + 1000, react(mid));
      await post(re);
      await processed(re);
      const dm = await dms.findOne({ message_id: mid });
      expect(dm!.reactions ?? []).toEqual([]);
    });

    it('should remove the reaction on a react then an unreact in order', async () => {
      const { ev } = await thread();
      const mid = newMid();
      const t = Date.now();
      await post(ev(t, { message: { mid, text: 'hello' } }));
      await eventually(() => dms.findOne({ message_id: mid }));
      await post(ev(t + 1000, react(mid)));
      await eventually(() => dms.findOne({ message_id: mid, 'reactions.0': { $exists: true } }));
      const un = ev(t + 2000, unreact(mid));
      await post(un);
      await processed(un);
      expect((await dms.findOne({ message_id: mid }))!.reactions).toEqual([]);
    });
  });

  /** An unsent message leaves the thread preview empty whatever order its events come in. */
  describe('Unsent messages in any order', () => {
    const processed = (body: string, n = 1) =>
      eventually(
        async () =>
          (await app.connection
            .db!.collection('webhook_deliveries')
            .countDocuments({ raw_body: body, status: 'processed' })) >= n,
      );

    async function thread() {
      const { biz, account } = await connectedBusiness();
      const customer = '6' + String(Date.now()).slice(-12) + String(Math.random()).slice(2, 5);
      const ev = (ts: number, extra: Record<string, unknown>) =>
        messagingBody(biz.igId, [
          { sender: { id: customer }, recipient: { id: biz.igId }, timestamp: ts, ...extra },
        ]);
      const conv = () => convs.findOne({ _id: `${account.accountId}:${customer}` as never });
      return { ev, conv, accountId: account.accountId };
    }

    it('should clear the preview and the unread count on a message then its unsend', async () => {
      const { ev, conv } = await thread();
      const mid = newMid();
      const t = Date.now();
      await post(ev(t, { message: { mid, text: 'secret address' } }));
      await eventually(() => dms.findOne({ message_id: mid }));
      const un = ev(t + 1000, { message: { mid, is_deleted: true } });
      await post(un);
      await processed(un);
      expect(await conv()).toMatchObject({ unread_count: 0, last_message: { preview: '' } });
    });

    it('should clear the preview when the unsend came before its message', async () => {
      const { ev, conv, accountId } = await thread();
      const mid = newMid();
      const t = Date.now();
      await post(ev(t + 1000, { message: { mid, is_deleted: true } }));
      await eventually(() =>
        app.connection
          .db!.collection('instagram_dm_ids')
          .findOne({ _id: `${accountId}:${mid}` as never, pending: { $exists: true } }),
      );
      const msg = ev(t, { message: { mid, text: 'secret address' } });
      await post(msg);
      await processed(msg);
      await eventually(() => dms.findOne({ message_id: mid, is_unsent: true }));
      expect(await conv()).toMatchObject({ unread_count: 0, last_message: { preview: '' } });
    });

    it('should keep the preview clear when Meta delivers the message again after its unsend', async () => {
      const { ev, conv } = await thread();
      const mid = newMid();
      const t = Date.now();
      const msg = ev(t, { message: { mid, text: 'secret address' } });
      await post(msg);
      await eventually(() => dms.findOne({ message_id: mid }));
      const un = ev(t + 1000, { message: { mid, is_deleted: true } });
      await post(un);
      await processed(un);
      await post(msg);
      await processed(msg, 2);
      expect(await conv()).toMatchObject({ unread_count: 0, last_message: { preview: '' } });
    });
  });
});
