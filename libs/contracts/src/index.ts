export * from './queues';
export * from './jobs';
export * from './codec';
