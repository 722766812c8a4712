export { main, type Io } from './main.js';
export { defaultImage, AVAILABLE_MODULES } from './image.js';
export { dmaTestModule, dmaTestRun, dmaTestChannel, type DmaTestResult } from './drivers/dma-test.js';
