package benchkit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	osexec "os/exec"

	"github.com/gomlx/compute"

	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

// aloneEnv holds, in a process that MeasureAlone starts, the Job it is to measure.
const aloneEnv = "TUNELAB_BENCH_ALONE"

// Job is one measurement of tunelab that a benchmark runs in a process of its own: a workload
// (by name) on an engine (as for OpenEngine), and for bench/train_step the devices the batch is
// split across.
type Job struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Devices  string `json:"devices,omitempty"`
}

// MeasureAlone measures job in a new process of this benchmark: the same executable and flags,
// and the job in the environment, where AloneJob finds it and RunJob measures it and answers.
// Each engine and workload then has a process to itself, so its peak RSS is its own: a
// second engine measured in the process of a first counted about 1.9 GB of the first's memory
// in its peak, whatever was handed back to the OS before (ReleaseFreeMemory). The child runs
// without XLA's compilation cache and its standard error goes to ours.
func MeasureAlone(job Job) (Measurement, error) {
	spec, err := json.Marshal(job)
	if err != nil {
		return Measurement{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return Measurement{}, err
	}
	cmd := osexec.Command(exe, os.Args[1:]...)
	// Without the compilation cache the warm-up repetition compiles, as Result.FirstSeconds says
	// (from the cache a MiniLM 16 x 32 step's took 0.86 s against 2.64).
	cmd.Env = append(os.Environ(), aloneEnv+"="+string(spec), xlacache.EnvVar+"=off")
	m, err := runMeasuring(cmd)
	if err != nil {
		on := job.Engine
		if job.Devices != "" {
			on += " (devices " + job.Devices + ")"
		}
		return m, fmt.Errorf("%s on %s in a process of its own: %w", job.Workload, on, err)
	}
	return m, nil
}

// AloneJob returns the job of a process that MeasureAlone started, and false in any other.
func AloneJob() (Job, bool) {
	spec, ok := os.LookupEnv(aloneEnv)
	if !ok {
		return Job{}, false
	}
	var job Job
	if err := json.Unmarshal([]byte(spec), &job); err != nil || job.Engine == "" || job.Workload == "" {
		fmt.Fprintf(os.Stderr, "%s=%q: want a benchkit.Job with an engine and a workload (%v)\n", aloneEnv, spec, err)
		os.Exit(2)
	}
	return job, true
}

// RunJob measures job, the job of a process that MeasureAlone started, and ends the process
// with its answer: it prepares the job's workload among workloads (in a temporary
// folder), opens its engine and calls measure with them and, with cpuProfile set, the file to
// write a CPU profile of the timed repetitions to (nil otherwise).
func RunJob(job Job, workloads []*Workload, cpuProfile string, measure func(w *Workload, b compute.Backend, profile io.Writer) (Measurement, error)) {
	answer(runJob(job, workloads, cpuProfile, measure))
}

func runJob(job Job, workloads []*Workload, cpuProfile string, measure func(*Workload, compute.Backend, io.Writer) (Measurement, error)) (Measurement, error) {
	var w *Workload
	for _, candidate := range workloads {
		if candidate.Name == job.Workload {
			w = candidate
		}
	}
	if w == nil {
		return Measurement{}, fmt.Errorf("no workload %q among the selected ones", job.Workload)
	}
	tmp, err := os.MkdirTemp("", "benchkit")
	if err != nil {
		return Measurement{}, err
	}
	defer os.RemoveAll(tmp)
	if err := w.Prepare(tmp); err != nil {
		return Measurement{}, fmt.Errorf("%s: %w", w.Name, err)
	}
	var profile io.Writer
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return Measurement{}, err
		}
		defer f.Close()
		profile = f
	}
	b, err := OpenEngine(job.Engine, nil)
	if err != nil {
		return Measurement{}, err
	}
	defer b.Finalize()
	return measure(w, b, profile)
}

// answer ends a process that MeasureAlone started: it prints m on standard output as
// MeasureAlone reads it and exits 0, or where err is not nil prints err on standard error and
// exits 1.
func answer(m Measurement, err error) {
	if err == nil {
		var out []byte
		if out, err = json.Marshal(m); err == nil {
			fmt.Println(string(out))
			os.Exit(0)
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
