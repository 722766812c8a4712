// Worker entry in plain JavaScript: registers tsx's loader in this thread (Node 20 does not
// carry the main thread's loader hooks into workers), then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
