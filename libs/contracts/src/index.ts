export * from './queues';
export * from './jobs';
export * from './codec';
export * from './index-ops';
export * from './requests';
export * from './random';
