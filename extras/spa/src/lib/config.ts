// Where the browser reaches gatehouse, from the VITE_GATEHOUSE_URL build/dev variable.

// Keep the host name the same as the page's (localhost with localhost): the refresh cookie is
// SameSite, and localhost:5173 and localhost:3001 are one site while 127.0.0.1 is another.
export const GATEHOUSE_URL: string = import.meta.env.VITE_GATEHOUSE_URL || 'http://localhost:3001';
