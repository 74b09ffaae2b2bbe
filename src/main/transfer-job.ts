import type { HttpArchiveOptions } from '../archive/http-archive';
import type { PullRequest } from '../core/ports';

/* Messages between the staging side and a transfer thread (see TransferThreads). */

/** A pull as it crosses to the thread: everything but the signal and the callback, which stay here. */
export type TransferJob = Omit<PullRequest, 'signal' | 'onChunk' | 'onResume'> & { readonly id: number };

export type ToThread = { readonly job: TransferJob } | { readonly cancel: number };

/** An error as it crosses the thread boundary: enough to rebuild the class the caller checks for. */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly retryable?: boolean;
  readonly code?: string;
}

export type FromThread =
  | { readonly id: number; readonly written: number }
  | { readonly id: number; readonly resumedAt: number; readonly cause: string }
  | { readonly id: number; readonly done: true }
  | { readonly id: number; readonly error: ThreadError };

/**
 * What a thread needs to start: its own archive client, made with the same options as the
 * event loop's, and the pause before asking for the rest of a body that broke off.
 */
export type ThreadSetup = HttpArchiveOptions & { readonly resumeDelayMs: number };

/** How often a running transfer reports its bytes (lease renewal and progress need no more). */
export const PROGRESS_MS = 200;
