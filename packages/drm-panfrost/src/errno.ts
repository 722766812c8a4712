/**
 * Errno values panfrost's fences carry that the kernel package does not define (yet):
 * ECANCELED (asm-generic/errno.h: 125). The others come from @gki/kernel.
 */
export { EINVAL, ETIME } from '@gki/kernel';
import { ESRCH } from '@gki/kernel';

/** "Operation canceled": a job stopped, or given up after a GPU reset. */
export const ECANCELED_ERRNO = 125;
/** "No such process": a queued job dropped because its file was closed. */
export const ESRCH_ERRNO = ESRCH;
