/**
 * `npm run test:reliability`: the OpenAPI document is exact. schemathesis (`st run --checks all`)
 * generates requests from /docs-json, valid and invalid, and checks every answer against the
 * document: schema-valid requests accepted, invalid ones refused, every status, content type and
 * body documented, 405 + Allow for methods a path does not have. igdm is built as production builds
 * it (nest build with the swagger plugin), connected to the Meta simulator through the real OAuth
 * flow, and given DMs by customers writing in, so the generated requests reach real accounts,
 * conversations and messages. Fixed seed, bounded examples: IGDM_ST_SEED and IGDM_ST_MAX_EXAMPLES
 * override them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import {
  APP_SECRET,
  bearer,
  freePort,
  igdmEnv,
  randomName,
  spawnIgdm,
  until,
  type IgdmProcess,
} from '../../bench/lib';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { log } from './support/harness';
import {
  buildIgdm,
  connectAccount,
  ensureSchemathesis,
  runSchemathesis,
} from './support/schemathesis';

const SEED = process.env.IGDM_ST_SEED ?? '20260101';
const MAX_EXAMPLES = process.env.IGDM_ST_MAX_EXAMPLES ?? '50';

describe('OpenAPI document conformance (schemathesis, reliability)', () => {
  const dbUrl = process.env.IGDM_TEST_DATABASE_URL!;
  const dbName = randomName('igdm_openapi');
  let meta: MetaSimulator;
  let igdm: IgdmProcess;
  let workDir: string;

  afterAll(async () => {
    await igdm?.stop();
    await meta?.close();
    const client = new MongoClient(dbUrl);
    await client
      .connect()
      .then(() => client.db(dbName).dropDatabase())
      .catch(() => undefined);
    await client.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('should answer every generated request as /docs-json says (st run --checks all: 0 failures)', async () => {
    const st = ensureSchemathesis();
    const entry = buildIgdm();

    meta = await startMetaSimulator({ appSecret: APP_SECRET });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    meta.setWebhookUrl(`${url}/webhook/instagram`);
    igdm = await spawnIgdm(
      igdmEnv({
        databaseUrl: dbUrl,
        databaseName: dbName,
        port,
        graphUrl: meta.graphUrl,
        apiUrl: meta.apiUrl,
        extra: {
          INSTAGRAM_WWW_URL: meta.wwwUrl,
          API_URL: url,
          // The simulator's CDN serves the attachments.
          MEDIA_HOSTS: meta.url,
          // Thousands of requests from one caller and address: rate limits would answer most.
          THROTTLE_LIMIT: '1000000',
          THROTTLE_SEND_LIMIT: '100000',
          THROTTLE_ANONYMOUS_LIMIT: '1000000',
        },
      }),
      { entry },
    );

    // Two connected accounts (the generated DELETE /accounts/{id} may disconnect one), with DMs
    // from customers of each: text, an image, and the business's reply.
    const userId = randomName('openapi_user');
    const auth = bearer(userId);
    let dms = 0;
    for (const name of ['openapi_shop_a', 'openapi_shop_b']) {
      const biz = meta.createBusiness({ username: name });
      const accountId = await connectAccount(url, auth, meta, biz);
      for (const customerName of ['ana', 'ben']) {
        const customer = meta.customer(biz, { username: `${customerName}_${name}` });
        await customer.sends(`Hello from ${customerName}`);
        await customer.sendsImage();
        dms += 2;
      }
      log(`openapi: connected account ${accountId}`);
    }
    await until(
      async () => {
        const res = await fetch(`${url}/instagram-dms/list?limit=100`, {
          headers: { Authorization: auth },
        });
        const body = (await res.json()) as { total?: number };
        return (body.total ?? 0) >= dms;
      },
      30_000,
      `${dms} DMs stored`,
      200,
    );

    workDir = mkdtempSync(join(tmpdir(), 'igdm-schemathesis-'));
    const common = [
      `${url}/docs-json`,
      '--header',
      `Authorization: ${auth}`,
      '--checks',
      'all',
      '--seed',
      SEED,
      '--max-examples',
      MAX_EXAMPLES,
      '--workers',
      '2',
      '--generation-database',
      'none',
      '--request-timeout',
      '20',
      // An SSE stream never ends: a request/response fuzzer can only time out on it
      // (test/dms/stream*.e2e-spec.ts cover it).
      '--exclude-path',
      '/instagram-dms/stream',
    ];
    // Disconnecting the accounts first would leave the rest of the run nothing real to work on
    // (the stateful phase follows links from GET /accounts to DELETE early): every other
    // operation first, then the two that take data away, with the lists that lead to them.
    const destructive = ['AccountsController_remove', 'UserSettingsController_remove'];
    const runs = [
      {
        name: 'every operation but the disconnects',
        filter: destructive.flatMap((id) => ['--exclude-operation-id', id]),
      },
      {
        name: 'the disconnects',
        filter: [...destructive, 'AccountsController_list', 'UserSettingsController_get'].flatMap(
          (id) => ['--include-operation-id', id],
        ),
      },
    ];
    const outcomes: { name: string; exitCode: number | null; failures?: string }[] = [];
    for (const { name, filter } of runs) {
      const run = await runSchemathesis(st, [...common, ...filter], workDir);
      process.stdout.write(`\n[reliability] schemathesis, ${name}:\n${run.summary}\n`);
      if (run.exitCode !== 0) process.stdout.write(`\n${run.output.slice(-60_000)}\n`);
      outcomes.push({
        name,
        exitCode: run.exitCode,
        failures: run.summary.match(/\d+ failures?\b/)?.[0],
      });
    }
    expect(outcomes).toEqual(runs.map(({ name }) => ({ name, exitCode: 0, failures: undefined })));
  });
});
