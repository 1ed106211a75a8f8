export default async function globalTeardown(): Promise<void> {
  await globalThis.__IGDM_TEST_DB__?.stop();
}
