// Ambient types: SvelteKit's namespaces and the app's Vite environment variables.
declare global {
	namespace App {}

	interface ImportMetaEnv {
		readonly VITE_GATEHOUSE_URL?: string;
	}
}

export {};
