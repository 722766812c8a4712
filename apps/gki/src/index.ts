export { main, type Io } from './main.js';
export { defaultImage, AVAILABLE_MODULES } from './image.js';
