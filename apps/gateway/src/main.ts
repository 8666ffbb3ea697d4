// Placeholder entry point of the gateway; replaced when the gateway is implemented.
process.stdout.write(JSON.stringify({ level: 'info', msg: 'gateway is not implemented yet' }) + '\n');
