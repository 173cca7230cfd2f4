// SvelteKit configuration: a static single-page app (no server-side rendering).
import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
export default {
	preprocess: vitePreprocess(),
	kit: {
		// Every route falls back to index.html and is rendered in the browser.
		adapter: adapter({ fallback: 'index.html' })
	}
};
