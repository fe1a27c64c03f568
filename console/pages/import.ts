// Import: a Takeout (.zip, .tgz, .tar, Records.json) uploaded from the browser with tus (resumable:
// an upload cut off resumes where it stopped, tus-js-client remembers it), then an import job whose
// progress is followed live (/v1/jobs/{id}/events, server-sent events read through fetch so that
// they carry the key), and its report.
import { Upload } from 'tus-js-client';
import { authHeaders, getJson, postJson, request } from '../api.js';
import { errorText, formatCount, formatDateTime, h, plural, replace, status } from '../dom.js';
import type { Cleanup } from '../main.js';
import { hashFile } from '../sha256.js';

interface Job {
  job_id: string;
  status: string;
  created_at?: string;
  error: string | null;
  progress: { files: number; records: number; duplicates: number; quarantined: number; current_file: string | null; current_file_bytes: number | null; current_file_size: number | null; upload_bytes: number | null };
}
const FINISHED = new Set(['done', 'partial', 'failed', 'cancelled']);
const CHUNK = 32 * 1024 * 1024;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Server-sent events of a job, read with the key; calls `onEvent` per event until the stream ends. */
async function followJob(jobId: string, onEvent: (event: string, job: any) => void, signal: AbortSignal) {
  const response = await request(`/v1/jobs/${jobId}/events`, { signal, headers: { accept: 'text/event-stream' } });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, JSON.parse(data.join('\n')));
    }
  }
}

export async function importPage(main: HTMLElement, _args: string[], signal: AbortSignal): Promise<Cleanup> {
  const file = h('input#file', { type: 'file', multiple: true, accept: '.zip,.tgz,.gz,.tar,.json', 'aria-describedby': 'file-help' });
  const start = h('button#start', { type: 'submit' }, 'Upload and import');
  const cancel = h('button#cancel-upload', { type: 'button', hidden: true }, 'Pause upload');
  const bar = h('progress#upload-progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload' });
  const note = status();
  const job = h('section.job', { 'aria-live': 'polite', 'aria-label': 'Import job' });
  const jobs = h('ol.jobs', { 'aria-label': 'Recent imports' });
  const form = h(
    'form.import',
    {},
    h('label', { for: 'file' }, 'Takeout archive or its parts'),
    file,
    h('p.help#file-help', {}, 'A .zip, .tgz or .tar from Google Takeout (choose every part of a split export together), or a single Records.json. Large files are sent in pieces and resume after an interruption.'),
    h('div.actions', {}, start, cancel),
    bar,
    note,
  );
  main.append(h('div.import-page', {}, h('div.toolbar', {}, h('h1', {}, 'Import')), form, job, h('h2', {}, 'Recent imports'), jobs));

  let upload: Upload | null = null;
  const stop = new AbortController();
  signal.addEventListener('abort', () => {
    stop.abort();
    void upload?.abort();
  });

  const showJob = (current: Job, live?: { records?: number; current_file?: string | null; current_file_bytes?: number | null }) => {
    const p = current.progress;
    job.dataset.status = current.status;
    replace(job, 
      h('h2', {}, 'Import ', h('span#job-status.badge', { 'data-status': current.status }, current.status)),
      h(
        'p',
        {},
        `${plural(p.files, 'file')}, ${plural(live?.records ?? p.records, 'record')} loaded, ${plural(p.duplicates, 'duplicate')}, ${formatCount(p.quarantined)} quarantined`,
      ),
      (live?.current_file ?? p.current_file) ? h('p.current', {}, `Reading ${live?.current_file ?? p.current_file}`) : null,
      current.error ? h('p.error', {}, current.error) : null,
    );
  };

  const report = async (jobId: string) => {
    const r = await getJson<{ files: Array<{ path: string; status: string; counts: Record<string, number> }>; totals: { files: number; counts: Record<string, number> } }>(`/v1/jobs/${jobId}/report`, {}, signal);
    const counts = Object.entries(r.totals.counts).map(([kind, n]) => `${formatCount(n)} ${kind.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}`).join(', ');
    job.append(
      h('p#job-summary', {}, `${plural(r.totals.files, 'file')}: ${counts || 'nothing new'}.`),
      h('ul.report', {}, ...r.files.map((f) => h('li', { 'data-status': f.status }, h('span.badge', { 'data-status': f.status }, f.status), ' ', f.path))),
    );
  };

  const follow = async (jobId: string) => {
    let current = await getJson<Job>(`/v1/jobs/${jobId}`, {}, signal);
    showJob(current);
    if (!FINISHED.has(current.status)) {
      await followJob(
        jobId,
        (event, data) => {
          if (event === 'job' || event === 'done') current = data as Job;
          showJob(current, event === 'progress' ? data : undefined);
        },
        stop.signal,
      );
      current = await getJson<Job>(`/v1/jobs/${jobId}`, {}, signal);
      showJob(current);
    }
    await report(jobId);
    void listJobs();
  };

  const listJobs = async () => {
    const { jobs: rows } = await getJson<{ jobs: Job[] }>('/v1/jobs', { limit: 10 }, signal);
    jobs.replaceChildren(
      ...rows.map((j) => {
        const open = h('button', { type: 'button' }, j.created_at ? formatDateTime(j.created_at) : j.job_id.slice(0, 8));
        open.addEventListener('click', () => void follow(j.job_id).catch((e) => (note.textContent = errorText(e))));
        return h('li', {}, open, ' ', h('span.badge', { 'data-status': j.status }, j.status), ` ${plural(j.progress.records, 'record')}`);
      }),
    );
    if (!rows.length) jobs.append(h('li.empty', {}, 'None yet.'));
  };

  /** Hashes then uploads one file (resuming an upload of it cut off earlier); its upload id. */
  const send = async (chosen: File, part: string): Promise<string> => {
    const sha256 = await hashFile(
      chosen,
      (done) => {
        bar.value = done / chosen.size / 2;
        note.textContent = `Checking ${chosen.name}${part}: ${mib(done)} of ${mib(chosen.size)}`;
      },
      stop.signal,
    );
    const url = await new Promise<string>((resolve, reject) => {
      const current = new Upload(chosen, {
        endpoint: new URL('/v1/uploads', location.href).href,
        headers: authHeaders(),
        chunkSize: CHUNK,
        retryDelays: [0, 1000, 3000, 5000],
        metadata: { filename: chosen.name, sha256 },
        removeFingerprintOnSuccess: true,
        onProgress: (sent, total) => {
          bar.value = 0.5 + sent / total / 2;
          note.textContent = `Uploading ${chosen.name}${part}: ${mib(sent)} of ${mib(total)}`;
        },
        onSuccess: () => resolve(current.url!),
        onError: reject,
      });
      upload = current;
      cancel.hidden = false;
      void current.findPreviousUploads().then((previous) => {
        if (previous[0]) current.resumeFromPreviousUpload(previous[0]);
        current.start();
      });
    });
    cancel.hidden = true;
    return url.split('/').pop()!;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // Several files are the parts of one split Takeout (takeout-…-001.zip, -002.zip…): one job.
    const chosen = [...(file.files ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    if (!chosen.length) {
      note.textContent = 'Choose a file first.';
      file.focus();
      return;
    }
    start.disabled = true;
    bar.hidden = false;
    const names = chosen.length === 1 ? chosen[0]!.name : plural(chosen.length, 'part');
    try {
      const ids: string[] = [];
      for (const [i, part] of chosen.entries()) ids.push(await send(part, chosen.length > 1 ? ` (part ${i + 1} of ${chosen.length})` : ''));
      note.textContent = `${names} uploaded; importing…`;
      const created = await postJson<Job>('/v1/jobs', ids.length === 1 ? { upload_id: ids[0] } : { upload_ids: ids });
      await follow(created.job_id);
      note.textContent = `${names} imported.`;
    } catch (error) {
      if (!signal.aborted) note.textContent = `Upload failed: ${errorText(error)}`;
    } finally {
      start.disabled = false;
      cancel.hidden = true;
    }
  });
  cancel.addEventListener('click', () => {
    void upload?.abort();
    cancel.hidden = true;
    start.disabled = false;
    note.textContent = 'Paused: choose the same file and start again to resume.';
  });

  await listJobs();
  return () => stop.abort();
}
