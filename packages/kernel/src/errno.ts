/** Linux errno values (asm-generic/errno-base.h and errno.h, plus the kernel-internal ones). */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const EAGAIN = 11;
export const EWOULDBLOCK = EAGAIN;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENOSYS = 38;
export const ELOOP = 40;
export const ENODATA = 61;
export const ETIME = 62;
export const EOVERFLOW = 75;
export const EILSEQ = 84;
export const EOPNOTSUPP = 95;
export const ETIMEDOUT = 110;
export const ECANCELED = 125;
export const EKEYREJECTED = 129;
/** Kernel-internal: driver requests probe retry. */
export const EPROBE_DEFER = 517;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [ESRCH]: 'ESRCH', [EINTR]: 'EINTR', [EIO]: 'EIO',
  [ENXIO]: 'ENXIO', [E2BIG]: 'E2BIG', [ENOEXEC]: 'ENOEXEC', [EBADF]: 'EBADF', [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT', [EBUSY]: 'EBUSY', [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV', [ENOTDIR]: 'ENOTDIR', [EINVAL]: 'EINVAL', [ENOSPC]: 'ENOSPC', [ERANGE]: 'ERANGE',
  [EDEADLK]: 'EDEADLK', [ENOSYS]: 'ENOSYS', [ELOOP]: 'ELOOP', [ENODATA]: 'ENODATA', [ETIME]: 'ETIME',
  [EOVERFLOW]: 'EOVERFLOW', [EILSEQ]: 'EILSEQ', [EOPNOTSUPP]: 'EOPNOTSUPP', [ETIMEDOUT]: 'ETIMEDOUT', [ECANCELED]: 'ECANCELED',
  [EKEYREJECTED]: 'EKEYREJECTED', [EPROBE_DEFER]: 'EPROBE_DEFER',
};

/** `errnoName(-12)` and `errnoName(12)` are both 'ENOMEM'. */
export function errnoName(err: number): string {
  return NAMES[Math.abs(err)] ?? `E${Math.abs(err)}`;
}

/** An error carrying a (negative) errno, thrown at API edges. */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  /** Negative errno, as the kernel returns it. */
  readonly errno: number;
  constructor(errno: number, message: string) {
    const e = -Math.abs(errno);
    super(`${message} (${errnoName(e)}, ${e})`);
    this.errno = e;
  }
}

/** True for a value the kernel would treat as an error return (-4095..-1). */
export function isErr(v: number): boolean {
  return v < 0 && v >= -4095;
}
