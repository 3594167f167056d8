// The "Kernel runs" side panel: every run of the run store, newest first, polled while it is shown;
// a run's chart and fastest configs; two runs of one kernel overlaid.
import { Clipboard, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { fetchRun, fetchRuns, IRun, IRunDetail, ITopConfig } from './api';
import { formatMs, latencyChart, RUN_COLOURS } from './chart';

/** How often the list (and a running run's detail) is read again while the panel is shown. */
const POLL_MS = 1500;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) {
    node.className = props.className;
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  if (props.title) {
    node.title = props.title;
  }
  node.append(...children);
  return node;
}

function basename(path: string | null): string {
  return path ? path.split(/[\\/]/).pop() || path : '—';
}

function when(iso: string): string {
  return new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function throughput(run: IRun): string {
  if (run.tflops !== null) {
    return `${run.tflops.toFixed(2)} TFLOP/s`;
  }
  return run.gbps !== null ? `${run.gbps.toPrecision(3)} GB/s` : '—';
}

function ended(run: IRun): string {
  if (run.state === 'running') {
    return 'running';
  }
  return run.ended ?? run.state;
}

/** A run's identity for "has it changed since drawn". */
function version(run: IRun): string {
  return `${run.state}/${run.candidates}/${run.ended}`;
}

export class RunsPanel extends Widget {
  constructor(private readonly tracker: INotebookTracker | null) {
    super();
    this.id = 'kernelbench-runs';
    this.addClass('kb-runs');
    this.title.caption = 'Kernel runs';
    this.kernelFilter = h('select', { className: 'kb-filter', title: 'Show the runs of one kernel' });
    this.kernelFilter.addEventListener('change', () => this.renderList());
    this.status = h('span', { className: 'kb-status' });
    this.body = h('tbody');
    const head = h('tr');
    for (const [label, title] of [
      ['', 'Select two runs of one kernel to overlay their charts'],
      ['Kernel', ''],
      ['From', 'The notebook or script the run came from'],
      ['Started', ''],
      ['Device', ''],
      ['Strategy', ''],
      ['Cands', 'Correct / measured candidates'],
      ['Best ms', 'Fastest correct candidate'],
      ['Throughput', 'At the best time: bytes (or flops) per call over time'],
      ['Ended', 'How the run ended (running: still measuring)']
    ]) {
      head.append(h('th', { text: label, title }));
    }
    this.compareNode = h('div', { className: 'kb-compare' });
    this.detailNode = h('div', { className: 'kb-detail' });
    this.node.append(
      h('div', { className: 'kb-header' }, h('h2', { text: 'Kernel runs' }), this.kernelFilter, this.status),
      h('div', { className: 'kb-table-wrap' }, h('table', { className: 'kb-table' }, h('thead', {}, head), this.body)),
      this.compareNode,
      this.detailNode
    );
  }

  protected onAfterShow(): void {
    void this.poll();
  }

  protected onAfterAttach(): void {
    this.timer = window.setInterval(() => {
      if (this.isVisible) {
        void this.poll();
      }
    }, POLL_MS);
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this.timer);
  }

  /** Read the list again; redraw what changed. */
  async poll(): Promise<void> {
    if (this.polling) {
      return;
    }
    this.polling = true;
    try {
      this.runs = await fetchRuns();
      this.status.textContent = '';
      this.renderFilter();
      this.renderList();
      await this.refreshDetails();
    } catch (error) {
      this.status.textContent = String((error as Error).message ?? error);
    } finally {
      this.polling = false;
    }
  }

  private renderFilter(): void {
    const kernels = [...new Set(this.runs.map(r => r.kernel))].sort();
    const current = this.kernelFilter.value;
    const wanted = ['', ...kernels];
    const have = [...this.kernelFilter.options].map(o => o.value);
    if (wanted.join('\n') === have.join('\n')) {
      return;
    }
    this.kernelFilter.replaceChildren(
      ...wanted.map(k => {
        const option = h('option', { text: k || 'all kernels' });
        option.value = k;
        return option;
      })
    );
    this.kernelFilter.value = wanted.includes(current) ? current : '';
  }

  private renderList(): void {
    const filter = this.kernelFilter.value;
    const rows = this.runs.filter(r => !filter || r.kernel === filter);
    this.body.replaceChildren(
      ...rows.map(run => {
        const box = h('input');
        box.type = 'checkbox';
        box.checked = this.compared.includes(run.id);
        box.title = 'Overlay with another run of this kernel';
        box.addEventListener('click', event => {
          event.stopPropagation();
          this.toggleCompare(run.id, box.checked);
        });
        const tr = h(
          'tr',
          { className: `kb-run kb-${run.state}${run.id === this.selected ? ' kb-selected' : ''}` },
          h('td', {}, box),
          h('td', { className: 'kb-kernel', text: run.kernel }),
          h('td', { className: 'kb-origin', text: basename(run.origin), title: run.origin ?? 'not recorded' }),
          h('td', { text: when(run.started), title: run.started }),
          h('td', { text: run.device }),
          h('td', { text: run.strategy }),
          h('td', { className: 'kb-num kb-cands', text: `${run.ok}/${run.candidates}` }),
          h('td', { className: 'kb-num', text: run.best_ms !== null ? formatMs(run.best_ms) : '—', title: run.timer }),
          h('td', { className: 'kb-num', text: throughput(run), title: run.timer }),
          h('td', { className: 'kb-ended', text: ended(run), title: run.error ?? '' })
        );
        tr.dataset.runId = String(run.id);
        tr.dataset.state = run.state;
        tr.addEventListener('click', () => {
          this.selected = run.id;
          this.renderList();
          void this.refreshDetails();
        });
        return tr;
      })
    );
  }

  private toggleCompare(id: number, on: boolean): void {
    this.compared = this.compared.filter(c => c !== id);
    if (on) {
      this.compared.push(id);
      if (this.compared.length > 2) {
        this.compared.shift();
      }
    }
    this.renderList();
    void this.refreshDetails();
  }

  /** The detail of ``id``: read again only when the run changed since it was read. */
  private async detail(id: number): Promise<IRunDetail | null> {
    const run = this.runs.find(r => r.id === id);
    if (!run) {
      return null;
    }
    const cached = this.details.get(id);
    if (cached && version(cached) === version(run)) {
      return cached;
    }
    const fresh = await fetchRun(id);
    this.details.set(id, fresh);
    return fresh;
  }

  private async refreshDetails(): Promise<void> {
    const selected = this.selected === null ? null : await this.detail(this.selected);
    const pair = await Promise.all(this.compared.map(id => this.detail(id)));
    const drawn = [selected, ...pair].map(d => (d ? `${d.id}:${version(d)}` : '-')).join(' ');
    if (drawn === this.drawn) {
      return;
    }
    this.drawn = drawn;
    this.renderCompare(pair.filter((d): d is IRunDetail => d !== null));
    this.renderDetail(selected);
  }

  private renderCompare(pair: IRunDetail[]): void {
    if (pair.length < 2) {
      this.compareNode.replaceChildren(
        pair.length ? h('p', { className: 'kb-hint', text: 'Tick one more run of this kernel to overlay them.' }) : ''
      );
      return;
    }
    const [a, b] = pair;
    if (a.kernel !== b.kernel) {
      this.compareNode.replaceChildren(
        h('p', { className: 'kb-hint', text: `Runs ${a.id} and ${b.id} tune different kernels: tick two runs of one kernel.` })
      );
      return;
    }
    const series = pair.map((d, i) => ({ label: `run ${d.id}`, colour: RUN_COLOURS[i], candidates: d.candidate_list }));
    const chart = latencyChart(series, a.timer);
    chart.classList.add('kb-overlay');
    this.compareNode.replaceChildren(h('h3', { text: `${a.kernel}: run ${a.id} and run ${b.id}` }), chart);
  }

  private renderDetail(run: IRunDetail | null): void {
    if (!run) {
      this.detailNode.replaceChildren(
        h('p', { className: 'kb-hint', text: this.runs.length ? 'Click a run to see its chart and configs.' : 'No runs yet: tune a kernel.' })
      );
      return;
    }
    const facts = [
      `from ${run.origin ?? 'an unrecorded source'}`,
      `${run.device}, ${run.strategy}${run.seed !== null ? ` (seed ${run.seed})` : ''}`,
      `started ${when(run.started)}`,
      run.state === 'running' ? 'running' : `ended: ${ended(run)}${run.error ? ` (${run.error})` : ''}`
    ];
    const chart = latencyChart([{ label: `run ${run.id}`, candidates: run.candidate_list }], run.timer);
    chart.classList.add('kb-single');
    // Show the knobs this run's candidates differ in (the rest are the same in all of them).
    const keys = [...new Set(run.candidate_list.flatMap(c => Object.keys(c.config)))].sort();
    const varying = keys.filter(k => new Set(run.candidate_list.map(c => JSON.stringify(c.config[k]))).size > 1);
    const top = h('table', { className: 'kb-top' });
    top.append(
      h('tr', {}, h('th', { text: 'ms' }), h('th', { text: 'knobs that vary in this run', title: 'Hover a config for all its knobs' }), h('th'))
    );
    for (const config of run.top) {
      top.append(this.configRow(config, varying));
    }
    this.detailNode.replaceChildren(
      h('h3', { text: `Run ${run.id}: ${run.kernel}` }),
      h('p', { className: 'kb-facts', text: facts.join(' · ') }),
      chart,
      h('h4', { text: run.top.length ? 'Fastest correct configs' : 'No correct config yet' }),
      top
    );
  }

  private configRow(config: ITopConfig, varying: string[]): HTMLTableRowElement {
    const copy = h('button', { className: 'jp-Button kb-copy', text: 'Copy decorator', title: config.decorator });
    copy.addEventListener('click', () => {
      Clipboard.copyToSystem(config.decorator);
      copy.textContent = 'Copied';
      window.setTimeout(() => (copy.textContent = 'Copy decorator'), 1500);
    });
    const insert = h('button', { className: 'jp-Button kb-insert', text: 'Insert cell',
      title: config.pin ?? 'the kernel name is not a Python name' });
    insert.disabled = config.pin === null;
    insert.addEventListener('click', () => this.insertCell(config.pin ?? ''));
    return h(
      'tr',
      { className: 'kb-config' },
      h('td', { className: 'kb-num', text: formatMs(config.ms) }),
      h('td', {
        className: 'kb-json',
        text: varying.length ? varying.map(k => `${k}=${JSON.stringify(config.config[k])}`).join('  ') : JSON.stringify(config.config),
        title: JSON.stringify(config.config, null, 1)
      }),
      h('td', { className: 'kb-actions' }, copy, insert)
    );
  }

  /** A new cell below the active one of the current notebook, holding ``source``. */
  private insertCell(source: string): void {
    const panel = this.tracker?.currentWidget;
    if (!panel) {
      Notification.error('Open a notebook first: the cell that pins the config goes into the current notebook.');
      return;
    }
    const notebook = panel.content;
    NotebookActions.insertBelow(notebook);
    notebook.activeCell?.model.sharedModel.setSource(source);
    Notification.success(`Inserted a cell that pins the config into ${panel.context.path}`, { autoClose: 3000 });
  }

  private readonly kernelFilter: HTMLSelectElement;
  private readonly status: HTMLSpanElement;
  private readonly body: HTMLTableSectionElement;
  private readonly compareNode: HTMLDivElement;
  private readonly detailNode: HTMLDivElement;
  private runs: IRun[] = [];
  private details = new Map<number, IRunDetail>();
  private selected: number | null = null;
  private compared: number[] = [];
  private drawn = '';
  private polling = false;
  private timer = 0;
}
