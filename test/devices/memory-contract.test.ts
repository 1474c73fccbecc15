import { describeDriverContract } from '../../testing/index.js';
import { memoryHarness } from './memory-driver.js';

describeDriverContract('memory', async () => memoryHarness(), { deadlineMs: 300 });
