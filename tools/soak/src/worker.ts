/** A campaign worker thread: runs the tasks it is sent, one at a time, and posts the results. */
import { parentPort } from 'node:worker_threads';
import { runTask, type Task } from './campaign.js';

parentPort!.on('message', (m: { task: Task; deadline?: number }) => {
  parentPort!.postMessage(runTask(m.task, m.deadline));
});
