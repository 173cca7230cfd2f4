// Turns the service's lower-case messages into sentences for display.

export function sentence(message: string): string {
	const text = message.trim();
	if (!text) return text;
	const capitalised = text[0].toUpperCase() + text.slice(1);
	return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
