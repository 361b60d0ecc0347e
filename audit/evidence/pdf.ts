import PDFDocument from 'pdfkit';
import type { EvidenceData } from './collect';

/**
 * The human-readable report of an inspection package. It renders the sections it knows (stages,
 * containment clock, signatures, reconciliation, holds, CAPA, notifications, effectiveness) and
 * then every other part of the workflow state generically, so a state that grows new sections
 * still prints all of them, and a missing or odd field prints as "—" rather than failing.
 */
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => {
  if (v === undefined || v === null || v === '') return '—';
  if (v instanceof Date) return fmtTime(v.toISOString());
  if (typeof v === 'string') return /^\d{4}-\d{2}-\d{2}T/.test(v) ? fmtTime(v) : v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.length ? v.map(str).join(', ') : '—';
  return JSON.stringify(v);
};
/** UTC, to the second: signatures and clocks are read against UTC (Part 11 manifestation). */
function fmtTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
const humanise = (key: string) =>
  key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());
/** A stage, gate or kind as words: effectiveness_check → effectiveness check. */
const words = (v: unknown): string => (typeof v === 'string' ? v.replace(/_/g, ' ') : str(v));
/** A duration as a reviewer reads it: seconds under two minutes (compressed policies), else minutes. */
function fmtDuration(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '—';
  if (Math.abs(ms) < 120_000) return `${Math.round(ms / 1000)} s`;
  const min = Math.round((ms / 60_000) * 10) / 10;
  return min >= 1440 ? `${Math.round((min / 1440) * 10) / 10} days` : `${min} min`;
}
const msBetween = (a: unknown, b: unknown): number | undefined => {
  const x = Date.parse(String(a));
  const y = Date.parse(String(b));
  return Number.isNaN(x) || Number.isNaN(y) ? undefined : y - x;
};

const MARGIN = 50;
const KNOWN_STATE_KEYS = new Set([
  'id',
  'title',
  'symptom',
  'severity',
  'source',
  'batches',
  'lines',
  'gtins',
  'description',
  'reportedBy',
  'detectedAt',
  'policy',
  'stage',
  'transitions',
  'containment',
  'rounds',
  'version',
  'tasks',
  'deadlines',
  'slaBreaches',
]);

class Report {
  readonly doc: PDFKit.PDFDocument;
  constructor(title: string) {
    this.doc = new PDFDocument({
      size: 'A4',
      margin: MARGIN,
      bufferPages: true,
      info: { Title: title, Author: 'GxP Deviation Engine', Subject: 'Inspection evidence package' },
    });
  }
  get width() {
    return this.doc.page.width - 2 * MARGIN;
  }
  ensure(height: number) {
    if (this.doc.y + height > this.doc.page.height - MARGIN - 20) this.doc.addPage();
  }
  heading(text: string) {
    // A heading never ends a page: room for it and the first lines of its section.
    this.ensure(110);
    this.doc.moveDown(0.8).font('Helvetica-Bold').fontSize(13).fillColor('#1f3a5f').text(text, MARGIN, this.doc.y, { width: this.width });
    this.doc
      .moveTo(MARGIN, this.doc.y + 2)
      .lineTo(MARGIN + this.width, this.doc.y + 2)
      .strokeColor('#1f3a5f')
      .lineWidth(0.7)
      .stroke();
    this.doc.moveDown(0.5).fillColor('black');
  }
  sub(text: string) {
    this.ensure(70);
    this.doc.moveDown(0.4).font('Helvetica-Bold').fontSize(10.5).text(text, MARGIN, this.doc.y, { width: this.width }).moveDown(0.2);
  }
  para(text: string, opts: { italic?: boolean; color?: string } = {}) {
    this.doc
      .font(opts.italic ? 'Helvetica-Oblique' : 'Helvetica')
      .fontSize(9.5)
      .fillColor(opts.color ?? 'black')
      .text(text, MARGIN, this.doc.y, { width: this.width });
    this.doc.fillColor('black');
  }
  kv(rows: Array<[string, unknown]>) {
    const keyW = 150;
    for (const [k, v] of rows) {
      const value = str(v);
      this.doc.font('Helvetica').fontSize(9.5);
      const h = Math.max(this.doc.heightOfString(value, { width: this.width - keyW }), 12);
      this.ensure(h + 2);
      const y = this.doc.y;
      this.doc.font('Helvetica-Bold').text(k, MARGIN, y, { width: keyW - 8 });
      this.doc.font('Helvetica').text(value, MARGIN + keyW, y, { width: this.width - keyW });
      this.doc.y = Math.max(this.doc.y, y + h) + 2;
    }
  }
  /** A table with wrapped cells; the header repeats on each new page. */
  table(headers: string[], rows: unknown[][], widths?: number[]) {
    if (!rows.length) return this.para('None recorded.', { italic: true, color: '#555' });
    const w = widths ?? headers.map(() => 1);
    const total = w.reduce((a, b) => a + b, 0);
    const cols = w.map((x) => (x / total) * this.width);
    const drawRow = (cells: string[], bold: boolean, shade: boolean) => {
      const size = bold ? 7.8 : 8.5;
      this.doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(size);
      const h = Math.max(...cells.map((c, i) => this.doc.heightOfString(c, { width: cols[i]! - 6 }))) + 6;
      return {
        h,
        draw: (y: number) => {
          if (shade)
            this.doc
              .rect(MARGIN, y, this.width, h)
              .fill(bold ? '#dfe6ee' : '#f5f7fa')
              .fillColor('black');
          let x = MARGIN;
          cells.forEach((c, i) => {
            this.doc
              .font(bold ? 'Helvetica-Bold' : 'Helvetica')
              .fontSize(size)
              .text(c, x + 3, y + 3, { width: cols[i]! - 6 });
            x += cols[i]!;
          });
          this.doc.y = y + h;
        },
      };
    };
    const header = () => {
      const r = drawRow(headers, true, true);
      this.ensure(r.h + 14);
      r.draw(this.doc.y);
    };
    header();
    rows.forEach((row, i) => {
      const r = drawRow(row.map(str), false, i % 2 === 1);
      if (this.doc.y + r.h > this.doc.page.height - MARGIN - 20) {
        this.doc.addPage();
        header();
      }
      r.draw(this.doc.y);
    });
    this.doc.moveDown(0.3);
  }
  /** Any value, nested, for sections this renderer does not know yet. */
  generic(value: unknown, depth = 0) {
    const pad = MARGIN + depth * 12;
    const width = this.width - depth * 12;
    const o = obj(value);
    if (o) {
      const entries = Object.entries(o);
      if (!entries.length) return this.line(pad, width, '—');
      for (const [k, v] of entries) {
        if (obj(v) || (Array.isArray(v) && v.some((x) => obj(x) || Array.isArray(x)))) {
          this.line(pad, width, `${humanise(k)}:`, true);
          if (depth >= 6) this.line(pad + 12, width - 12, JSON.stringify(v).slice(0, 2000));
          else this.generic(v, depth + 1);
        } else this.line(pad, width, `${humanise(k)}: ${str(v)}`);
      }
    } else if (Array.isArray(value)) {
      if (!value.length) return this.line(pad, width, '—');
      value.slice(0, 200).forEach((item, i) => {
        this.line(pad, width, `#${i + 1}`, true);
        this.generic(item, depth + 1);
      });
      if (value.length > 200) this.line(pad, width, `… ${value.length - 200} more in state.json`);
    } else this.line(pad, width, str(value));
  }
  private line(x: number, width: number, text: string, bold = false) {
    this.doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(9);
    const h = this.doc.heightOfString(text, { width });
    this.ensure(h);
    this.doc.text(text, x, this.doc.y, { width });
  }
}

/** Attributions (by + at) anywhere in the state: the decisions people made, with their place in the record. */
function attributions(value: unknown, path: string[] = [], out: Array<{ what: string; by: unknown; at: unknown; note: unknown }> = []) {
  const o = obj(value);
  if (o) {
    if (typeof o.by === 'string' && typeof o.at === 'string' && path.length) {
      out.push({
        what: path.map(humanise).join(' › '),
        by: o.by,
        at: o.at,
        note:
          o.comment ??
          o.reason ??
          o.justification ??
          o.rationale ??
          (typeof o.effective === 'boolean' ? (o.effective ? 'effective' : 'not effective') : undefined),
      });
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'transitions' && k !== 'result') attributions(v, [...path, k], out);
  } else if (Array.isArray(value))
    value.forEach((v, i) => attributions(v, [...path.slice(0, -1), `${path[path.length - 1] ?? 'item'} ${i + 1}`], out));
  return out;
}

export function renderEvidencePdf(data: EvidenceData, files: Array<{ path: string; sha256: string }>): Promise<Buffer> {
  const s = data.state ?? {};
  const people = data.people ?? {};
  /** A person as the record names them: printed name and login, or the login (or role) alone. */
  const who = (login: unknown): string => (typeof login === 'string' && people[login] ? `${people[login]} (${login})` : str(login));
  /** The same for a narrow table cell: the login on a line of its own. */
  const whoCell = (login: unknown): string => (typeof login === 'string' && people[login] ? `${people[login]}\n${login}` : str(login));
  /** A signature's manifestation (11.50): printed name, meaning, UTC time. */
  const manifestation = (sig: unknown): string | undefined => {
    const g = obj(sig);
    return g ? `${str(g.printedName)} (${str(g.login)}), ${str(g.meaning)}, ${str(g.signedAt)}` : undefined;
  };
  /** A decision (by, at, maybe a signature, comment, rationale) on one line. */
  const decision = (v: unknown): string | undefined => {
    const d = obj(v);
    if (!d) return undefined;
    const signed = manifestation(d.signature);
    const head = signed ? `Signed by ${signed}` : `${who(d.by)}, ${str(d.at)}`;
    const verdict = typeof d.effective === 'boolean' ? (d.effective ? 'effective' : 'not effective') : undefined;
    const note = [verdict, d.rationale ?? d.comment ?? d.reason]
      .filter((x) => x !== undefined && x !== null && x !== '')
      .map(str)
      .join(': ');
    return note ? `${head} — ${note}` : head;
  };
  const r = new Report(`Deviation ${data.deviationId}`);
  const doc = r.doc;
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  // ── cover ──
  doc.font('Helvetica-Bold').fontSize(18).fillColor('#1f3a5f').text(`Deviation ${data.deviationId}`, MARGIN, MARGIN);
  doc.font('Helvetica').fontSize(11).fillColor('black').text(str(s.title), { width: r.width }).moveDown(0.3);
  doc
    .fontSize(9)
    .fillColor('#555')
    .text(
      `Inspection evidence package generated ${fmtTime(data.generatedAt)}. History from ${data.record.source === 'archive' ? 'the PostgreSQL archive (Temporal no longer holds this workflow)' : 'Temporal'}; state from ${STATE_SOURCES[data.stateSource]}.`,
      { width: r.width },
    );
  doc.fillColor('black');
  r.heading('1. Deviation');
  const policy = obj(s.policy);
  const ended = [...data.steps].reverse().find((x) => x.kind === 'end');
  r.kv([
    ['Stage', words(s.stage)],
    ['Workflow', ended ? `${ended.name} at ${fmtTime(ended.at)}${ended.by ? ` by ${ended.by}` : ''}` : 'running'],
    ['Severity', s.severity],
    ['Symptom', s.symptom],
    ['Source', s.source],
    ['Detected', s.detectedAt],
    ['Reported by', who(s.reportedBy)],
    ['Batches', s.batches],
    ['Lines', s.lines],
    ['GTINs', s.gtins],
    ['Policy', policy ? `${str(policy.name)} (version ${str(policy.version)})` : undefined],
    ['Description', s.description],
  ]);

  // ── timeline ──
  r.heading('2. Timeline of stages');
  r.table(
    ['When (UTC)', 'From', 'To', 'By', 'Why'],
    arr(s.transitions).map((t) => {
      const o = obj(t) ?? {};
      return [o.at, words(o.from ?? 'start'), words(o.to), whoCell(o.by), o.reason];
    }),
    [2.1, 1.6, 1.6, 2.3, 3.4],
  );

  // ── containment ──
  r.heading('3. Containment and its clock');
  const c = obj(s.containment);
  if (c) {
    const windowMs = msBetween(s.detectedAt, c.dueAt);
    const conf = obj(c.confirmation);
    const took = conf ? msBetween(s.detectedAt, conf.at) : undefined;
    r.kv([
      ['Clock started (detection)', s.detectedAt],
      ['Confirmation due', `${str(c.dueAt)}  (window: ${fmtDuration(windowMs)} after detection)`],
      [
        'Actions completed',
        `${str(c.actionsCompletedAt)}${c.actionsCompletedAt ? `  (${fmtDuration(msBetween(s.detectedAt, c.actionsCompletedAt))} after detection)` : ''}`,
      ],
      ['Confirmed', conf ? decision(conf) : 'not confirmed'],
      [
        'Time to confirmation',
        took !== undefined
          ? `${fmtDuration(took)} of the ${fmtDuration(windowMs)} window${conf?.late ? ` — LATE by ${fmtDuration((took ?? 0) - (windowMs ?? 0))} (SLA breached)` : ' — within the window'}`
          : 'not confirmed',
      ],
      ['Reminders sent', c.remindersSent],
      ['Escalated / SLA breach', (c.escalatedAt ?? c.slaBreachedAt) ? `${str(c.escalatedAt)} / ${str(c.slaBreachedAt)}` : 'none'],
      [
        'Response roles',
        obj(c.responseRoles)
          ? Object.entries(c.responseRoles as Obj)
              .map(([k, v]) => `${humanise(k)}: ${who(v)}`)
              .join('; ')
          : undefined,
      ],
      [
        'Trace-and-hold',
        obj(c.trace)
          ? `${str((c.trace as Obj).shipments)} shipments, ${str((c.trace as Obj).serials)} serials, ${arr((c.trace as Obj).ssccs).length} SSCCs flagged`
          : undefined,
      ],
    ]);
    r.sub('Preliminary reconciliation');
    r.table(
      ['Batch', 'Commissioned', 'Packed', 'Rejected', 'Sampled', 'Destroyed', 'Unaccounted', 'Discrepancies', 'Report'],
      arr(c.preliminaryReconciliation).map((x) => {
        const o = obj(x) ?? {};
        const b = obj(o.balance) ?? {};
        const d = obj(o.discrepancies) ?? {};
        return [
          o.lot,
          b.commissioned,
          b.packed,
          b.rejected,
          b.sampled,
          b.destroyed,
          b.unaccounted,
          Object.entries(d)
            .filter(([, n]) => Number(n) > 0)
            .map(([k, n]) => `${humanise(k)} ${str(n)}`)
            .join(', ') || 'none',
          o.unknownBatch ? 'unknown batch' : o.reportId,
        ];
      }),
      [1.5, 1.75, 1.15, 1.35, 1.3, 1.4, 1.65, 2.2, 1.6],
    );
  } else r.para('No containment recorded in the state.', { italic: true });

  // ── holds ──
  r.heading('4. Distribution holds and dispositions');
  r.table(
    ['Batch', 'Placed', 'By', 'Disposition', 'Disposed', 'By', 'Reason'],
    data.holds.map((h) => [
      h.lot,
      h.placed_at,
      whoCell(h.placed_by),
      h.disposition ?? 'on hold',
      h.disposed_at,
      whoCell(h.disposed_by),
      h.disposition_reason ?? h.reason,
    ]),
    [1.4, 1.7, 1.5, 1.45, 1.7, 1.5, 2.3],
  );

  // ── investigation / CAPA / effectiveness per round ──
  r.heading('5. Investigation, CAPA, change control and effectiveness');
  const rounds = arr(s.rounds);
  if (!rounds.length) r.para('No investigation round has started.', { italic: true });
  rounds.forEach((round) => {
    const o = obj(round) ?? {};
    r.sub(`Round ${str(o.number)} — started ${str(o.startedAt)}: ${str(o.reason)}`);
    const inv = obj(o.investigation) ?? {};
    const report = obj(inv.report);
    r.kv([
      ['Investigation due', inv.dueAt],
      ['Evidence items', arr(inv.evidence).length],
      [
        'Contributions',
        arr(inv.contributions)
          .map((x) => `${str(obj(x)?.function)}: ${str(obj(x)?.summary)} (${who(obj(x)?.by)})`)
          .join('\n') || undefined,
      ],
      [
        'Root cause analyses',
        arr(inv.analyses).map(
          (x) => `${words(obj(obj(x)?.analysis)?.method ?? obj(obj(x)?.analysis)?.tool ?? 'analysis')} by ${who(obj(x)?.by)}`,
        ),
      ],
      ['Risk class', obj(inv.risk)?.riskClass],
      [
        'Report',
        report ? `${str(report.summary)} — root cause: ${str(report.rootCause)} (${who(report.by)}, ${str(report.at)})` : undefined,
      ],
      [
        'Rejections',
        arr(inv.rejections)
          .map((x) => decision(x))
          .join('\n') || undefined,
      ],
      ['Approved', decision(inv.approval)],
    ]);
    const capa = obj(o.capa) ?? {};
    r.kv([
      ['CAPA plan due', capa.planDueAt],
      ['CAPA plan approved', decision(capa.planApproval)],
      ['CAPA completed', capa.completedAt],
    ]);
    r.table(
      ['Action', 'Type', 'Description', 'Owner', 'Due', 'Status', 'Completion / cancellation'],
      arr(capa.actions).map((a) => {
        const x = obj(a) ?? {};
        const done = obj(x.completion) ?? obj(x.cancellation);
        return [
          x.id,
          x.type,
          `${str(x.description)}${obj(x.changeControl) ? `\nChange control ${str(obj(x.changeControl)?.id)}: ${words(obj(x.changeControl)?.kind)} — ${str(obj(x.changeControl)?.description)}` : ''}`,
          whoCell(x.owner),
          x.dueAt,
          x.status,
          done ? `${who(done.by)}, ${str(done.at)}: ${str(done.evidence ?? done.justification)}` : '—',
        ];
      }),
      [0.8, 1.2, 2.6, 1.9, 1.5, 1.4, 2.7],
    );
    for (const cc of arr(o.changeControls)) {
      const x = obj(cc) ?? {};
      const rec = obj(x.result) ?? {};
      const impact = obj(rec.impactAssessment);
      const impl = obj(rec.implementation);
      r.sub(
        `Change control ${str(x.id)} (action ${str(x.actionId)}, ${words(x.kind)}): ${words(x.status)}${x.closedAt ? ` ${str(x.closedAt)}` : ''}`,
      );
      r.kv([
        [
          'Impact assessment',
          impact
            ? `Validation status affected: ${str(impact.validationStatusAffected)}; re-qualification: ${str(impact.requalificationRequired)}; systems: ${str(impact.systemsAffected)} — ${str(impact.summary)} (${who(impact.by)}, ${str(impact.at)})`
            : undefined,
        ],
        [
          'Approvals',
          arr(rec.approvals)
            .map((a) => decision(a))
            .join('\n') || undefined,
        ],
        ['Implementation', impl ? `${str(impl.summary)} (${who(impl.by)}, ${str(impl.at)})` : undefined],
        ['Verification', decision(rec.verification)],
      ]);
    }
    const eff = obj(o.effectiveness) ?? {};
    r.table(
      ['Effectiveness check', 'Verdict', 'Batches', 'Duplicate serials', 'Aggregation error rate', 'Reasons'],
      arr(eff.checks).map((x) => {
        const e = obj(x) ?? {};
        return [e.evaluatedAt, words(e.verdict), e.batchesEvaluated, e.duplicateSerials, e.aggregationErrorRate, e.reasons];
      }),
      [2, 1.4, 1, 1.3, 1.5, 3],
    );
    if (eff.decision || eff.verification)
      r.kv([
        ['QA decision', decision(eff.decision) ?? 'not needed'],
        ['Verified', decision(eff.verification)],
      ]);
  });

  // ── signatures ──
  r.heading('6. Signatures and decisions');
  if (data.signatures) {
    r.sub('Electronic signatures (signature ledger)');
    r.para(
      'Each signature is shown with its manifestation (printed name, meaning, date and time in UTC) and the SHA-256 of the record it was bound to; signatures.json holds the full hashes and the ledger chain.',
      { italic: true, color: '#555' },
    );
    r.table(
      ['Signed (UTC)', 'Signer', 'Meaning', 'Signed for', 'Record SHA-256'],
      data.signatures.map((x) => [
        x.signed_at,
        `${str(x.printed_name)}\n${str(x.signer_login)}`,
        x.meaning,
        `${signedFor(s, String(x.task_id ?? ''))}${x.comment ? `\n“${str(x.comment)}”` : ''}`,
        `${String(x.record_hash ?? '').slice(0, 12)}…`,
      ]),
      [1.9, 2, 1.1, 3.4, 1.7],
    );
  }
  r.sub('Sign-off tasks');
  r.table(
    ['Task', 'Gate', 'Created (UTC)', 'Due (UTC)', 'Status', 'Signatures'],
    arr(s.tasks).map((t) => {
      const x = obj(t) ?? {};
      const rejection = obj(x.rejection);
      const sigs = arr(x.signatures)
        .map((g) => manifestation(g))
        .filter(Boolean);
      if (rejection) sigs.push(`rejected by ${manifestation(rejection.signature) ?? '—'}: ${str(rejection.reason)}`);
      return [
        x.id,
        `${str(x.title)}${Number(x.round) > 0 ? ` (round ${str(x.round)})` : ''}`,
        x.createdAt,
        x.dueAt,
        x.status,
        sigs.join('\n') || '—',
      ];
    }),
    [0.6, 2.6, 1.7, 1.7, 1, 3.4],
  );
  r.sub('Decisions recorded in the workflow (who and when)');
  r.table(
    ['Decision', 'By', 'When (UTC)', 'Note'],
    attributions(s).map((a) => [a.what, whoCell(a.by), a.at, a.note]),
    [3, 2.3, 2, 2.7],
  );

  // ── notifications ──
  r.heading('7. Notifications, reminders and escalations');
  r.sub('Due dates and their clocks');
  r.table(
    ['Due date', 'Due (UTC)', 'Met (UTC)', 'Overdue', 'Reminders', 'Escalated', 'Extensions'],
    arr(s.deadlines).map((d) => {
      const x = obj(d) ?? {};
      const ext = arr(x.extensions)
        .map((e) => {
          const y = obj(e) ?? {};
          return `${str(y.from)} → ${str(y.to)}: ${str(y.status)}`;
        })
        .join('\n');
      return [x.label, x.dueAt, x.metAt ?? 'not met', x.overdue, x.reminders, x.escalated, ext || '—'];
    }),
    [2.8, 1.7, 1.7, 0.9, 1, 1, 1.6],
  );
  const breaches = arr(s.slaBreaches)
    .map(obj)
    .filter((b): b is Obj => Boolean(b));
  r.para(
    breaches.length ? `SLA breaches: ${breaches.map((b) => `${words(b.clock)} at ${str(b.at)}`).join('; ')}.` : 'No SLA breach recorded.',
    breaches.length ? { color: '#a00' } : {},
  );
  r.sub('Notifications sent through the outbox');
  const counts = new Map<string, number>();
  for (const n of data.notifications) counts.set(String(n.kind), (counts.get(String(n.kind)) ?? 0) + 1);
  r.para([...counts].map(([k, n]) => `${words(k)}: ${n}`).join(' · ') || 'None recorded.');
  r.table(
    ['Created (UTC)', 'Kind', 'Recipients', 'Subject', 'Status'],
    data.notifications.map((n) => [n.created_at, words(n.kind), arr(n.recipients).map(who).join(', '), n.subject, n.status]),
    [1.8, 1.7, 2, 4, 0.9],
  );

  // ── reconciliation reports ──
  r.heading('8. Reconciliation reports');
  if (data.reconciliationReports.length)
    r.para(
      `${data.reconciliationReports.length} report(s) included under reconciliation/ in this package: ${data.reconciliationReports.map((x) => x.id).join(', ')}.`,
    );
  else
    r.para('No stored reconciliation report is referenced by this deviation (summaries, when present, are in section 3).', {
      italic: true,
    });

  // ── everything else the state holds ──
  const other = Object.entries(s).filter(([k]) => !KNOWN_STATE_KEYS.has(k));
  r.heading('9. Other recorded data');
  if (!other.length) r.para('None.', { italic: true });
  for (const [k, v] of other) {
    r.sub(humanise(k));
    r.generic(v);
  }

  // ── the durable history ──
  r.heading('10. Durable history (Temporal event history)');
  r.table(
    ['Run', 'Events', 'SHA-256 of the history file'],
    data.record.runs.map((run) => [run.runId, run.history.events?.length ?? 0, run.sha256]),
    [2.6, 0.8, 4.6],
  );
  r.sub('Recorded steps');
  r.table(
    ['Event', 'When (UTC)', 'Kind', 'What', 'By'],
    data.steps.map((x) => [x.eventId, x.at, x.kind, x.name, x.by]),
    [0.7, 2, 1.2, 3.3, 2.4],
  );

  r.heading('11. Audit trail extract');
  r.para(
    `${data.audit.length} audit-trail row(s) for this deviation are in audit-trail.csv, each hash-chained to the previous row of the whole trail.`,
  );
  r.table(
    ['When (UTC)', 'Actor', 'Action', 'Reason'],
    data.audit.slice(0, 60).map((a) => [a.at, whoCell(a.actor), a.action, a.reason]),
    [2, 2.3, 3.3, 2.4],
  );
  if (data.audit.length > 60) r.para(`… and ${data.audit.length - 60} more rows in audit-trail.csv.`, { italic: true });

  r.heading('12. Files in this package');
  r.table(
    ['File', 'SHA-256'],
    files.map((f) => [f.path, f.sha256]),
    [3.5, 6],
  );
  r.para('manifest.json lists these hashes; `npm run audit -- verify-package <zip>` checks them offline.', { italic: true, color: '#555' });

  // Page numbers last, when the page count is known.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Writing inside the bottom margin would otherwise make pdfkit start a new page.
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(7.5)
      .fillColor('#777')
      .text(`${data.deviationId} · evidence package · page ${i + 1} of ${range.count}`, MARGIN, doc.page.height - MARGIN + 15, {
        width: r.width,
        align: 'center',
        lineBreak: false,
      });
  }
  doc.end();
  return done;
}

/** What a ledger task ID was signed for: the gate's title from the state, a change control step, or the cancellation. */
function signedFor(state: Obj, taskId: string): string {
  const part = taskId.split('.').slice(1);
  if (part[0] === 'cancel') return 'Cancellation of the deviation';
  if (part[0]?.startsWith('CC')) return `Change control ${part[0]}: ${part[1] === 'verify' ? 'verification' : 'approval'}`;
  const task = arr(state.tasks)
    .map(obj)
    .find((t) => t?.id === part[0]);
  if (!task) return taskId;
  const round = Number(task.round) > 0 ? ` (round ${str(task.round)})` : '';
  return `${part[0]}: ${str(task.title)}${round}${task.status === 'rejected' ? ' — rejected' : ''}`;
}

const STATE_SOURCES: Record<EvidenceData['stateSource'], string> = {
  query: 'the running workflow (getState query)',
  result: 'the workflow\u2019s final result in its history',
  last_update: 'the answer to the last Update in its history (the workflow ended without a result)',
  input: 'the workflow\u2019s input only (no later state is recorded)',
  none: 'nowhere: no state could be read',
};
