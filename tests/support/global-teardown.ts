/** Placeholder: the shared test services are stopped here once they exist. */
export default async function globalTeardown(): Promise<void> {}
