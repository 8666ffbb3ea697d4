export * from './service';
export * from './processes';
export * from './http-clients';
export * from './redis-server';
export * from './image-fuzz';
