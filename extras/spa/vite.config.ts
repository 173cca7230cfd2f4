// Vite configuration: the dev/preview server's port and the unit-test setup.
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

// SPA_PORT lets scripts pick a free port; people get the documented default.
const port = Number(process.env.SPA_PORT ?? 5173);

export default defineConfig({
	plugins: [sveltekit()],
	server: { port, strictPort: true },
	preview: { port, strictPort: true },
	test: {
		include: ['src/**/*.test.ts'],
		environment: 'node'
	}
});
