// Placeholder entry point of the detector-worker; replaced when the detector-worker is implemented.
process.stdout.write(JSON.stringify({ level: 'info', msg: 'detector-worker is not implemented yet' }) + '\n');
