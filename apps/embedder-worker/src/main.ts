// Placeholder entry point of the embedder-worker; replaced when the embedder-worker is implemented.
process.stdout.write(JSON.stringify({ level: 'info', msg: 'embedder-worker is not implemented yet' }) + '\n');
