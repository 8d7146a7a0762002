#!/usr/bin/env python3
"""Runs the notebooks headless with the GoNB kernel and exports them as the lab report.

    report.py execute [--quick] [--out DIR] [NOTEBOOK...]   run notebooks into DIR/NAME.ipynb
    report.py execute --keep-fine-tunes [--out DIR] [NOTEBOOK...]
                                                            re-run DIR's executed notebooks, fine-tunes kept
    report.py export  [--out DIR] [--runs DIR] [--student FILE] [NOTEBOOK...]
                                                            HTML + PDF per notebook, and DIR/lab-report.pdf
    report.py all     [--quick] [--out DIR]                  both

execute keeps going past failing cells (like nbconvert --allow-errors), then prints every failing
cell with its source and the Go error and exits 1. --quick sets TUNELAB_QUICK=1 (small slices)
and puts a banner saying so at the top of each executed notebook. The notebooks write their
models and runs to $TUNELAB_OUT (default DIR/runs, a folder per task and one per run); export
reads those runs (--runs) for the title page: every run's hyperparameters and scores, and the
tasks x models table with 95% confidence intervals, as `go run ./cmd/tunelab runs --html` draws
them.

export without NOTEBOOKs takes each notebook from wherever it is newest: notebooks/ as the
student last saved it in JupyterLab (its runs in $TUNELAB_OUT, default build/notebooks), or DIR
as `execute` left it (runs in DIR/runs). Nothing is run again. The title page carries the
student's name, ID, course and date from notebooks/student.json (--student).

--keep-fine-tunes re-executes the notebooks already executed in DIR but skips the cells tagged
"fine-tune", keeping their outputs: every later cell reads the saved runs and models from
$TUNELAB_OUT, so charts and tables are drawn again (after a change to lab/plot or lab/runs, say) without
hours of training. Each skipped cell is printed.

PDFs are printed by Chromium (Debian's `chromium`, or $CHROMIUM) from the HTML export, with print
CSS that wraps long code lines; the combined report is a title page plus every notebook, merged
with pypdf.
"""
import argparse, datetime, glob, html, json, os, platform, re, shutil, subprocess, sys, tempfile

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from traitlets.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BANNER_TAG = "quick-run-banner"
# FINE_TUNE_TAG marks the cells that train; --keep-fine-tunes keeps their outputs.
FINE_TUNE_TAG = "fine-tune"
BANNER = ("> **Quick run** (`TUNELAB_QUICK=1`): 160 examples per split (80 for validation) and 20 training steps of 8 examples, so that the "
          "notebook runs in minutes. Its numbers only show that every step works; the real run is the "
          "default (unset `TUNELAB_QUICK`).")

PRINT_CSS = """
<style>
@page { size: A4; margin: 14mm 12mm; }
@media print {
  /* The CJK font has no bold: Chromium prints a synthesized bold as nameless Type 3 glyphs that
     PDF readers cannot search or keep on their line; unsynthesized, it prints the named font. */
  body { font-size: 11px; font-synthesis: none; }
  pre, code, .highlight pre, .jp-OutputArea-output pre { tab-size: 4; white-space: pre-wrap !important; word-break: break-word; overflow-wrap: anywhere; }
  .jp-Cell, .jp-OutputArea-output, table, svg, img { break-inside: avoid; }
  svg, img { max-width: 100% !important; height: auto !important; }
  .jp-InputPrompt, .jp-OutputPrompt { display: none; }
  /* Wide results tables shrink to the page instead of scrolling (a scroll bar cannot print). */
  .jp-OutputArea-output { overflow-x: visible !important; }
  .jp-OutputArea-output table { font-size: 9.5px !important; }
  .jp-OutputArea-output th, .jp-OutputArea-output td { padding: 2px 5px !important; }
}
</style>
"""


def notebooks(names):
    return names or sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def failures(nb):
    """Yields (cell index, source, error text) for every cell with an error output."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                # The Go error is in the streams before "exit status N" (GoNB's evalue).
                streams = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
                tb = "\n".join(out.get("traceback", []))
                yield i, cell.source, re.sub(r"\x1b\[[0-9;]*m", "", (streams + "\n" + tb).strip())


def execute(args):
    os.makedirs(args.out, exist_ok=True)
    os.environ.setdefault("TUNELAB_OUT", os.path.join(os.path.abspath(args.out), "runs"))
    os.environ.setdefault("GOEXPERIMENT", "simd")
    if args.quick:
        os.environ["TUNELAB_QUICK"] = "1"
    bad = 0
    for path in notebooks(args.notebooks):
        name = os.path.basename(path)
        if args.keep_fine_tunes:
            nb = nbformat.read(os.path.join(args.out, name), as_version=4)
        else:
            nb = nbformat.read(path, as_version=4)
            nb.cells = [c for c in nb.cells if BANNER_TAG not in c.metadata.get("tags", [])]
            if args.quick:
                banner = nbformat.v4.new_markdown_cell(BANNER, id="quickrun")
                banner.metadata["tags"] = [BANNER_TAG]
                nb.cells.insert(0, banner)
        mode = "keeping its fine-tunes" if args.keep_fine_tunes else "quick" if args.quick else "real run"
        print(f"executing {name} ({mode})", flush=True)
        start = datetime.datetime.now()
        # The kernel runs in notebooks/ (GoNB's GONB_DIR), where the cells find the repository.
        client = NotebookClient(nb, kernel_name="gonb", timeout=args.timeout, allow_errors=True,
                                resources={"metadata": {"path": os.path.dirname(path)}})
        if args.keep_fine_tunes:
            execute_keeping_fine_tunes(client, name)
        else:
            client.execute()
        secs = (datetime.datetime.now() - start).total_seconds()
        nbformat.write(nb, os.path.join(args.out, name))
        print(f"  {name}: {secs:.0f} s", flush=True)
        for i, src, err in failures(nb):
            bad += 1
            print(f"\n{name}: cell {i} failed:\n--- source ---\n{src}\n--- error ---\n{err}\n", file=sys.stderr)
    return 1 if bad else 0


def execute_keeping_fine_tunes(client, name):
    """Runs client's notebook in order, skipping the cells tagged FINE_TUNE_TAG (their outputs
    stay); execution counts follow the cells, skipped ones included."""
    client.reset_execution_trackers()
    with client.setup_kernel():
        count = 0
        for index, cell in enumerate(client.nb.cells):
            if cell.cell_type != "code":
                continue
            count += 1
            if FINE_TUNE_TAG in cell.metadata.get("tags", []):
                cell.execution_count = count
                print(f"  {name}: kept cell {index} ({cell.source.splitlines()[0]})", flush=True)
                continue
            client.execute_cell(cell, index, execution_count=count)


def chromium():
    for name in [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"]:
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("report.py: no Chromium to print PDFs (apt-get install chromium, or set $CHROMIUM)")


def print_pdf(html_path, pdf_path):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=10000",
               f"--print-to-pdf={pdf_path}", "file://" + os.path.abspath(html_path)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not os.path.exists(pdf_path) or os.path.getsize(pdf_path) == 0:
        sys.exit(f"report.py: chromium did not print {pdf_path} (exit {r.returncode}): {r.stderr[-2000:]}")


def export_html(nb_path, html_path):
    c = Config()
    c.HTMLExporter.template_name = "lab"
    c.Highlight2HTML.default_language = "go"
    body, _ = HTMLExporter(config=c).from_filename(nb_path)
    # No scripts from the network: the outputs are static SVG and HTML, and the PDF is printed offline.
    body = re.sub(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = body.replace("</head>", PRINT_CSS + "</head>", 1)
    write_atomic(html_path, body)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def runs_tables(run_dirs):
    """The title page's tables of every run and of the models compared with confidence
    intervals, as `tunelab runs --html` draws them (lab/runs, as in the notebooks)."""
    dirs = [d for d in run_dirs if os.path.isdir(d)]
    if not dirs:
        return f"<p>No runs in {html.escape(', '.join(run_dirs))}: run the notebooks' training cells first.</p>"
    env = dict(os.environ)
    env.setdefault("GOEXPERIMENT", "simd")
    r = subprocess.run(["go", "run", "./cmd/tunelab", "runs", "--html", *dirs], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        sys.exit(f"report.py: tunelab runs --html {' '.join(dirs)} (exit {r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


# STUDENT_FIELDS are the title page's lines about the student, read from notebooks/student.json
# (or --student FILE): {"name": ..., "student_id": ..., "course": ..., "date": ...}. An empty
# date is the day of the export; other empty fields print as blanks to fill in by hand.
STUDENT_FIELDS = [("name", "Name / 姓名"), ("student_id", "Student ID / 学号"), ("course", "Course / 课程"), ("date", "Date / 日期")]


def load_student(path):
    try:
        with open(path, encoding="utf-8") as f:
            student = json.load(f)
    except FileNotFoundError:
        student = {}
    except json.JSONDecodeError as e:
        sys.exit(f"report.py: {path}: line {e.lineno}: {e.msg} (want a JSON object with {', '.join(k for k, _ in STUDENT_FIELDS)})")
    if not isinstance(student, dict) or any(not isinstance(student.get(k, ""), str) for k, _ in STUDENT_FIELDS):
        sys.exit(f"report.py: {path}: want a JSON object whose {', '.join(k for k, _ in STUDENT_FIELDS)} are strings")
    return {k: student.get(k, "").strip() for k, _ in STUDENT_FIELDS} | {"date": student.get("date", "").strip() or datetime.date.today().isoformat()}


def title_page(tables, quick, names, student):
    mode = ("<p style='border:2px solid #e15759;padding:8px'><b>Quick run</b> (TUNELAB_QUICK=1): 160 examples per split (80 for validation), "
            "20 training steps of 8 examples. These numbers only show that the pipeline works.</p>") if quick else ""
    contents = "".join(f"<li>{html.escape(os.path.splitext(n)[0])}</li>" for n in names)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>tunelab lab report</title>
<style>body{{font-family:sans-serif;margin:40px;font-synthesis:none}} /* as PRINT_CSS says */
table.student{{font-size:15px;margin:18px 0;border-collapse:collapse}} table.student th,table.student td{{text-align:left;border-bottom:1px solid #888;padding:4px 10px;min-width:10em}}
/* The runs table has a column per hyperparameter: small print keeps it on the page. */
@media print {{ .runs table {{font-size:7.5px !important}} .runs th, .runs td {{padding:2px 3px !important}} }}</style>
</head><body>
<h1>tunelab lab report</h1>
<p>Fine-tuning pretrained BERT-family models for text classification, in Go with GoMLX, and deploying them as web demos.</p>
<table class="student">{"".join(f"<tr><th>{label}</th><td>{html.escape(student[key]) or '&nbsp;' * 40}</td></tr>" for key, label in STUDENT_FIELDS)}</table>
<p>{html.escape(platform.machine())}, {os.cpu_count()} CPUs</p>
{mode}
{tables}
<h2>Contents</h2><ol>{contents}</ol>
</body></html>"""


def sources(args):
    """Returns the notebooks to export and the run folders their cells wrote to. Named notebooks
    are taken as they are; otherwise each notebook is the newer of the copy in notebooks/ (as the
    student last saved it in JupyterLab; runs in $TUNELAB_OUT or build/notebooks) and the one
    executed into OUT (runs in OUT/runs), by modification time."""
    saved_runs = os.environ.get("TUNELAB_OUT") or os.path.join(ROOT, "build", "notebooks")
    executed_runs = os.path.join(args.out, "runs")
    if args.notebooks:
        return args.notebooks, [args.runs or executed_runs]
    paths, runs = [], []
    for saved in notebooks([]):
        executed = os.path.join(args.out, os.path.basename(saved))
        newest, folder = saved, saved_runs
        if os.path.exists(executed) and os.path.getmtime(executed) > os.path.getmtime(saved):
            newest, folder = executed, executed_runs
        print(f"exporting {os.path.relpath(newest)} (the newest copy)", flush=True)
        paths.append(newest)
        if folder not in runs:
            runs.append(folder)
    return paths, [args.runs] if args.runs else runs


def export(args):
    from pypdf import PdfWriter
    os.makedirs(args.out, exist_ok=True)
    paths, run_dirs = sources(args)
    names = [os.path.basename(p) for p in paths]
    executed = paths
    pdfs = []
    quick = False
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        quick = quick or any(BANNER_TAG in c.metadata.get("tags", []) for c in nb.cells)
        base = os.path.join(args.out, os.path.splitext(os.path.basename(path))[0])
        export_html(path, base + ".html")
        print_pdf(base + ".html", base + ".pdf")
        pdfs.append(base + ".pdf")
        print(f"exported {base}.html and .pdf", flush=True)
    title = os.path.join(args.out, "title.html")
    student = load_student(args.student or os.path.join(ROOT, "notebooks", "student.json"))
    write_atomic(title, title_page(runs_tables(run_dirs), quick, names, student))
    print_pdf(title, os.path.join(args.out, "title.pdf"))
    writer = PdfWriter()
    for p in [os.path.join(args.out, "title.pdf")] + pdfs:
        writer.append(p)
    report = os.path.join(args.out, "lab-report.pdf")
    with open(report + ".tmp", "wb") as f:
        writer.write(f)
    os.replace(report + ".tmp", report)
    print(f"wrote {report}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["execute", "export", "all"])
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "report"))
    p.add_argument("--runs", help="folder of the notebooks' runs (default $TUNELAB_OUT or OUT/runs)")
    p.add_argument("--student", help="the title page's student fields (default notebooks/student.json)")
    p.add_argument("--quick", action="store_true", help="TUNELAB_QUICK=1: small slices, minutes per notebook")
    p.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per cell")
    p.add_argument("--keep-fine-tunes", action="store_true",
                   help=f"re-execute OUT's executed notebooks without the cells tagged {FINE_TUNE_TAG!r}, keeping their outputs")
    args = p.parse_intermixed_args()
    if args.keep_fine_tunes and (args.quick or args.command != "execute"):
        p.error("--keep-fine-tunes goes with execute alone: it re-runs notebooks executed before, in their mode")
    args.notebooks = [os.path.abspath(n) for n in args.notebooks]
    rc = 0
    if args.command in ("execute", "all"):
        rc = execute(args)
    if args.command in ("export", "all"):
        rc = export(args) or rc
    return rc


if __name__ == "__main__":
    sys.exit(main())
