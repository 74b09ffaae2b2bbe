/** Placeholder: the shared test services are started here once they exist. */
export default async function globalSetup(): Promise<void> {}
