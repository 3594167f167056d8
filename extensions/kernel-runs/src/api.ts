// The server extension's REST API (kernelbench/server.py), read through Jupyter's own connection
// settings: the token or login cookie and the XSRF header go with every request.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One run, as GET /kernelbench/api/runs lists it. */
export interface IRun {
  id: number;
  kernel: string;
  origin: string | null;
  started: string;
  finished: string | null;
  state: 'running' | 'finished' | 'died' | 'unknown';
  ended: string | null;
  error: string | null;
  device: string;
  strategy: string;
  seed: number | null;
  budget: number | null;
  timer: string;
  candidates: number;
  ok: number;
  best_ms: number | null;
  gbps: number | null;
  tflops: number | null;
  signature: string;
  source_hash: string;
}

export interface ICandidate {
  index: number;
  status: string;
  ms: number | null;
  compile_s: number | null;
  finished_s: number | null;
  error: string | null;
  config: Record<string, unknown>;
}

export interface ITopConfig {
  index: number;
  ms: number;
  config: Record<string, unknown>;
  decorator: string;
  pin: string | null;
}

/** One run with its candidates, as GET /kernelbench/api/runs/<id> gives it. */
export interface IRunDetail extends IRun {
  knobs: string[];
  candidate_list: ICandidate[];
  top: ITopConfig[];
}

async function get<T>(path: string): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'kernelbench/api/runs', path);
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).message || message;
    } catch {
      // not JSON: keep the status text
    }
    throw new Error(`the run store could not be read (${response.status}: ${message})`);
  }
  return (await response.json()) as T;
}

export function fetchRuns(): Promise<IRun[]> {
  return get<IRun[]>('');
}

export function fetchRun(id: number): Promise<IRunDetail> {
  return get<IRunDetail>(String(id));
}
