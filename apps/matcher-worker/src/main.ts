// Placeholder entry point of the matcher-worker; replaced when the matcher-worker is implemented.
process.stdout.write(JSON.stringify({ level: 'info', msg: 'matcher-worker is not implemented yet' }) + '\n');
