// Package deploy_test checks the deployment files without a container
// engine: the compose file, the Kubernetes manifests, the Dockerfile and the
// Prometheus and Grafana configuration parse; every shopstream command they
// run is a real subcommand given real flags (asked of the binary's own flag
// sets through `<command> -h`); every SHOPSTREAM_* variable they set is one
// that command reads; every file they mount exists; and every metric the
// dashboard plots is one the code declares.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/shopstream/shopstream/internal/cli"
)

// image is the tag the compose file and the manifests run shopstream as.
const image = "shopstream:dev"

// flagsOf returns the flags (name: takes a value) of the shopstream command
// whose words lead args (e.g. "migrate up"), and the rest of args, by
// running `shopstream <command> -h`. It fails the test when the command
// does not exist.
func flagsOf(t *testing.T, args []string) (cmd string, flags map[string]bool, rest []string) {
	t.Helper()
	n := 0
	for n < len(args) && !strings.HasPrefix(args[n], "-") {
		n++
	}
	// The subcommands of token and migrate are a second word.
	if n > 2 || n == 0 {
		t.Fatalf("%q: want a command and flags only", args)
	}
	var stdout, stderr bytes.Buffer
	err := cli.Run(context.Background(), append(slices.Clone(args[:n]), "-h"), &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("shopstream %s -h: %v, want its flags (is it a real command?)\n%s", strings.Join(args[:n], " "), err, stderr.String())
	}
	flags = map[string]bool{}
	// flag.PrintDefaults: "  -name type" (a value) or "  -name" (a bool).
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)( [^\t\n]+)?(?:\t|$)`).FindAllStringSubmatch(stderr.String(), -1) {
		flags[m[1]] = m[2] != ""
	}
	if len(flags) == 0 {
		t.Fatalf("shopstream %s -h listed no flags:\n%s", strings.Join(args[:n], " "), stderr.String())
	}
	return strings.Join(args[:n], " "), flags, args[n:]
}

// checkCommand fails unless args is a real command with real flags, each
// value-taking flag given a value, and env holds only variables it reads.
func checkCommand(t *testing.T, where string, args []string, env []string) (cmd string, given map[string]string) {
	t.Helper()
	cmd, flags, rest := flagsOf(t, args)
	given = map[string]string{}
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "-") {
			t.Errorf("%s: %s: unexpected argument %q", where, cmd, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takes, ok := flags[name]
		if !ok {
			t.Errorf("%s: shopstream %s has no flag --%s", where, cmd, name)
			continue
		}
		if takes && !hasVal {
			if i+1 >= len(rest) {
				t.Errorf("%s: --%s needs a value", where, name)
				continue
			}
			i++
			val = rest[i]
		}
		given[name] = val
	}
	byEnv := map[string]string{}
	for f := range flags {
		byEnv[cli.EnvName(f)] = f
	}
	for _, e := range env {
		if !strings.HasPrefix(e, "SHOPSTREAM_") {
			t.Errorf("%s: environment variable %s: shopstream reads only SHOPSTREAM_*", where, e)
			continue
		}
		f, ok := byEnv[e]
		if !ok {
			t.Errorf("%s: shopstream %s reads no %s (it has no flag by that name)", where, cmd, e)
			continue
		}
		if _, dup := given[f]; dup {
			t.Errorf("%s: --%s given both as a flag and as %s", where, f, e)
		}
		given[f] = "$" + e
	}
	return cmd, given
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustExist(t *testing.T, where, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

type compose struct {
	Services map[string]service `json:"services"`
	Secrets  map[string]struct {
		File string `json:"file"`
	} `json:"secrets"`
	Volumes map[string]any `json:"volumes"`
}

type service struct {
	Image       string                                `json:"image"`
	Build       *struct{ Context, Dockerfile string } `json:"build"`
	Command     []string                              `json:"command"`
	Environment map[string]string                     `json:"environment"`
	Restart     string                                `json:"restart"`
	Healthcheck *struct {
		Test    []string `json:"test"`
		Disable bool     `json:"disable"`
	} `json:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Volumes []string `json:"volumes"`
	Secrets []string `json:"secrets"`
	Ports   []string `json:"ports"`
}

// interpolated replaces ${NAME:-default} by the default, as compose does
// when NAME is unset, and records the names.
func interpolated(s string, names map[string]bool) string {
	return regexp.MustCompile(`\$\{([A-Z0-9_]+):-([^}]*)\}`).ReplaceAllStringFunc(s, func(m string) string {
		sm := regexp.MustCompile(`\$\{([A-Z0-9_]+):-([^}]*)\}`).FindStringSubmatch(m)
		names[sm[1]] = true
		return sm[2]
	})
}

func TestCompose(t *testing.T) {
	raw := read(t, "docker-compose.yml")
	vars := map[string]bool{}
	if regexp.MustCompile(`\$\{[A-Z0-9_]+\}`).Match(raw) {
		t.Errorf("docker-compose.yml: a ${VAR} without a default; give each one (${VAR:-default})")
	}
	var c compose
	if err := yaml.Unmarshal([]byte(interpolated(string(raw), vars)), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	want := []string{"kafka", "postgres", "migrate", "token", "generate", "process-1", "process-2", "serve", "prometheus", "grafana"}
	for _, name := range want {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml: no service %q", name)
		}
	}
	if t.Failed() {
		return
	}
	oneShot := map[string]bool{"migrate": true, "token": true}
	groups := map[string][]string{}
	for name, s := range c.Services {
		where := "docker-compose.yml: " + name
		switch {
		case oneShot[name] && s.Restart != "no":
			t.Errorf("%s: a one-shot step wants restart: \"no\", has %q", where, s.Restart)
		case !oneShot[name] && s.Restart != "unless-stopped":
			t.Errorf("%s: restart %q, want unless-stopped", where, s.Restart)
		}
		if s.Healthcheck == nil || (len(s.Healthcheck.Test) == 0 && !s.Healthcheck.Disable) {
			t.Errorf("%s: no health check", where)
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s: depends on unknown service %q", where, dep)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				t.Errorf("%s: unknown secret %q", where, sec)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				mustExist(t, where, src)
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %q is neither a file here nor a named volume", where, src)
			}
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "SHOPSTREAM_") && s.Image != image {
				t.Errorf("%s: sets %s but does not run shopstream", where, k)
			}
		}
		if s.Image != image {
			continue
		}
		if s.Build == nil || s.Build.Context != ".." || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: want build context .. with its Dockerfile", where)
		} else {
			mustExist(t, where, filepath.Join(s.Build.Context, s.Build.Dockerfile))
		}
		var env []string
		for k, v := range s.Environment {
			env = append(env, k)
			if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(v, "/run/secrets/") && !slices.Contains(s.Secrets, strings.TrimPrefix(v, "/run/secrets/")) {
				t.Errorf("%s: %s=%s, but the secret is not given to the service", where, k, v)
			}
		}
		cmd, given := checkCommand(t, where, s.Command, env)
		if s.Healthcheck != nil && !s.Healthcheck.Disable {
			hc := s.Healthcheck.Test
			if len(hc) < 3 || hc[0] != "CMD" || hc[1] != "/shopstream" {
				t.Errorf("%s: health check %q, want [CMD /shopstream healthcheck ...]", where, hc)
			} else if hcmd, hflags := checkCommand(t, where+" (health check)", hc[2:], nil); hcmd != "healthcheck" {
				t.Errorf("%s: health check runs %q", where, hcmd)
			} else if _, port, _ := strings.Cut(given["addr"], ":"); !strings.HasSuffix(strings.TrimSuffix(hflags["url"], "/healthz"), ":"+port) {
				t.Errorf("%s: health check %s does not probe --addr %s", where, hflags["url"], given["addr"])
			}
		}
		switch cmd {
		case "process":
			if given["instance-id"] == "" || given["addr"] == "" {
				t.Errorf("%s: a processor wants its own --instance-id and an --addr for metrics", where)
			}
			groups[given["group"]] = append(groups[given["group"]], given["instance-id"])
			fallthrough
		case "serve", "token create", "migrate up":
			if v, ok := given["if-missing"]; cmd == "token create" && (!ok || v != "" && v != "true") {
				t.Errorf("%s: runs on every up, so wants --if-missing (else each up adds an admin token)", where)
			}
			if given["postgres"] == "" || given["postgres-password-file"] == "" {
				t.Errorf("%s: wants the PostgreSQL store and its password file", where)
			}
			if cmd != "migrate up" && given["auto-migrate"] != "$SHOPSTREAM_AUTO_MIGRATE" || (cmd != "migrate up" && s.Environment["SHOPSTREAM_AUTO_MIGRATE"] != "false") {
				t.Errorf("%s: wants SHOPSTREAM_AUTO_MIGRATE=false (the migrate service migrates)", where)
			}
		}
	}
	if len(groups) != 1 {
		t.Errorf("docker-compose.yml: processors in groups %v, want one group", groups)
	}
	for g, ids := range groups {
		if len(ids) != 2 || ids[0] == ids[1] {
			t.Errorf("docker-compose.yml: group %q has processors %v, want two with different ids", g, ids)
		}
	}
	// The one-shot steps run in order, before the processes that need them.
	if c.Services["token"].DependsOn["migrate"].Condition != "service_completed_successfully" ||
		c.Services["serve"].DependsOn["token"].Condition != "service_completed_successfully" ||
		c.Services["process-1"].DependsOn["token"].Condition != "service_completed_successfully" {
		t.Errorf("docker-compose.yml: migrate, then token, then process and serve")
	}
	for name, s := range c.Secrets {
		if !strings.HasPrefix(s.File, "./secrets/") {
			t.Errorf("docker-compose.yml: secret %s from %s, want ./secrets/ (ignored by git)", name, s.File)
		}
	}

	// .env.example sets exactly the variables the compose file reads.
	env := map[string]bool{}
	for _, line := range strings.Split(string(read(t, ".env.example")), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example: %q is not NAME=value", line)
		}
		env[k] = true
		if !vars[k] {
			t.Errorf(".env.example: %s is not read by docker-compose.yml", k)
		}
	}
	for v := range vars {
		if !env[v] {
			t.Errorf("docker-compose.yml reads ${%s}, which .env.example does not show", v)
		}
	}
}

func TestDockerfile(t *testing.T) {
	df := string(read(t, "../Dockerfile"))
	for _, want := range []string{
		// The published images by default; build arguments where no
		// registry is reachable (deploy/local/images.sh).
		"ARG GO_IMAGE=golang:1.26\n",
		"ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot\n",
		"FROM ${GO_IMAGE} AS build\n",
		"FROM ${RUNTIME_IMAGE}\n",
		"CGO_ENABLED=0 go build",
		"USER nonroot:nonroot",
		`ENTRYPOINT ["/shopstream"]`,
		"COPY --from=build /out/shopstream /shopstream",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile: no %q", want)
		}
	}
	// The -X targets of -ldflags are the variables `shopstream version` reads.
	if !strings.Contains(string(read(t, "../internal/cli/cmd_version.go")), "var version, commit, date string") {
		t.Errorf("internal/cli no longer has the version variables the Dockerfile's -ldflags set")
	}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) (\S+) \./$`).FindAllStringSubmatch(df, -1) {
		mustExist(t, "Dockerfile", filepath.Join("..", m[1]))
		mustExist(t, "Dockerfile", filepath.Join("..", m[2]))
	}
	jsonArray := func(prefix string) []string {
		m := regexp.MustCompile(`(?m)^` + prefix + `\s+(\[.*\])$`).FindStringSubmatch(df)
		if m == nil {
			t.Fatalf("Dockerfile: no %s [...]", prefix)
		}
		var a []string
		if err := json.Unmarshal([]byte(m[1]), &a); err != nil {
			t.Fatalf("Dockerfile: %s: %v", prefix, err)
		}
		return a
	}
	cmd, given := checkCommand(t, "Dockerfile CMD", jsonArray("CMD"), nil)
	hc := jsonArray(`\s+CMD`)
	if hc[0] != "/shopstream" {
		t.Fatalf("Dockerfile: HEALTHCHECK runs %q", hc)
	}
	if hcmd, hflags := checkCommand(t, "Dockerfile HEALTHCHECK", hc[1:], nil); hcmd != "healthcheck" || cmd != "serve" ||
		!strings.Contains(hflags["url"], given["addr"]+"/healthz") {
		t.Errorf("Dockerfile: HEALTHCHECK %q does not probe the /healthz of %s --addr %s", hc, cmd, given["addr"])
	}
	di := string(read(t, "../.dockerignore"))
	for _, want := range []string{".git", "bin", "data", ".venv-parity"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(di) {
			t.Errorf(".dockerignore: %s not left out of the build context", want)
		}
	}
}

type k8sObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
	Spec struct {
		Replicas *int `json:"replicas"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		MinAvailable    any               `json:"minAvailable"`
		ServiceSelector map[string]string `json:"-"`
		Ports           []struct {
			Name       string `json:"name"`
			TargetPort any    `json:"targetPort"`
		} `json:"ports"`
		Template podTemplate `json:"template"`
	} `json:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		InitContainers []container `json:"initContainers"`
		Containers     []container `json:"containers"`
		Volumes        []struct {
			Name   string `json:"name"`
			Secret *struct {
				SecretName string `json:"secretName"`
				Items      []struct {
					Key string `json:"key"`
				} `json:"items"`
			} `json:"secret"`
		} `json:"volumes"`
	} `json:"spec"`
}

type container struct {
	Name  string   `json:"name"`
	Image string   `json:"image"`
	Args  []string `json:"args"`
	Env   []struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		ValueFrom *struct {
			ConfigMapKeyRef *struct{ Name, Key string } `json:"configMapKeyRef"`
			FieldRef        *struct {
				FieldPath string `json:"fieldPath"`
			} `json:"fieldRef"`
		} `json:"valueFrom"`
	} `json:"env"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	LivenessProbe, ReadinessProbe *struct {
		HTTPGet *struct {
			Path string `json:"path"`
			Port string `json:"port"`
		} `json:"httpGet"`
	}
	StartupProbe *struct {
		HTTPGet *struct {
			Path string `json:"path"`
		} `json:"httpGet"`
		PeriodSeconds    int `json:"periodSeconds"`
		FailureThreshold int `json:"failureThreshold"`
	} `json:"startupProbe"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

func TestKubernetes(t *testing.T) {
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no k8s/*.yaml: %v", err)
	}
	var objs []k8sObject
	var raws []map[string]any
	for _, f := range files {
		for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(read(t, f)), -1) {
			var o k8sObject
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var raw map[string]any
			yaml.Unmarshal([]byte(doc), &raw)
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: a document without kind, apiVersion or name", f)
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != "shopstream" {
				t.Errorf("%s: %s %s outside namespace shopstream", f, o.Kind, o.Metadata.Name)
			}
			objs = append(objs, o)
			raws = append(raws, raw)
		}
	}
	byKind := map[string]map[string]k8sObject{}
	for _, o := range objs {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]k8sObject{}
		}
		byKind[o.Kind][o.Metadata.Name] = o
	}
	cm := byKind["ConfigMap"]["shopstream"]
	matches := func(sel, labels map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	podsOf := func(sel map[string]string) []k8sObject {
		var out []k8sObject
		for _, kind := range []string{"Deployment", "Job"} {
			for _, o := range byKind[kind] {
				if matches(sel, o.Spec.Template.Metadata.Labels) {
					out = append(out, o)
				}
			}
		}
		return out
	}
	commands := map[string]string{}
	for _, kind := range []string{"Deployment", "Job"} {
		for name, o := range byKind[kind] {
			pod := o.Spec.Template
			if kind == "Deployment" && !matches(o.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
				t.Errorf("Deployment %s: its selector does not match its pods", name)
			}
			volumes := map[string]bool{}
			for _, v := range pod.Spec.Volumes {
				volumes[v.Name] = true
			}
			for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
				where := kind + " " + name + ", container " + c.Name
				if c.Image != image {
					t.Errorf("%s: image %q, want %s", where, c.Image, image)
				}
				var env []string
				for _, e := range c.Env {
					env = append(env, e.Name)
					if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
						ref := e.ValueFrom.ConfigMapKeyRef
						if _, ok := byKind["ConfigMap"][ref.Name].Data[ref.Key]; !ok {
							t.Errorf("%s: %s from ConfigMap %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
						}
					}
					if strings.HasSuffix(e.Name, "_FILE") {
						ok := false
						for _, m := range c.VolumeMounts {
							ok = ok || strings.HasPrefix(e.Value, m.MountPath+"/")
						}
						if !ok {
							t.Errorf("%s: %s=%s is on no mounted volume", where, e.Name, e.Value)
						}
					}
				}
				for _, m := range c.VolumeMounts {
					if !volumes[m.Name] {
						t.Errorf("%s: mounts unknown volume %s", where, m.Name)
					}
				}
				cmd, given := checkCommand(t, where, c.Args, env)
				commands[cmd] = name
				if v, ok := given["if-missing"]; cmd == "token create" && (!ok || v != "" && v != "true") {
					t.Errorf("%s: runs again with each upgrade, so wants --if-missing", where)
				}
				if cmd == "process" || cmd == "serve" || cmd == "token create" {
					if given["auto-migrate"] != "$SHOPSTREAM_AUTO_MIGRATE" {
						t.Errorf("%s: wants SHOPSTREAM_AUTO_MIGRATE=false (the init job migrates)", where)
					}
				}
				if cmd != "process" && cmd != "serve" {
					continue
				}
				// Start-up waits for the database up to --postgres-wait,
				// serving nothing: the liveness probe must not count then.
				wait := 5 * time.Minute
				if v, ok := given["postgres-wait"]; ok {
					var err error
					if wait, err = time.ParseDuration(v); err != nil {
						t.Errorf("%s: --postgres-wait %q: %v", where, v, err)
					}
				}
				if sp := c.StartupProbe; sp == nil || sp.HTTPGet == nil || sp.HTTPGet.Path != "/healthz" ||
					time.Duration(max(sp.PeriodSeconds, 10)*max(sp.FailureThreshold, 3))*time.Second < wait {
					t.Errorf("%s: no startup probe of /healthz lasting the --postgres-wait of %v", where, wait)
				}
				_, port, _ := strings.Cut(given["addr"], ":")
				ports := map[string]int{}
				for _, p := range c.Ports {
					ports[p.Name] = p.ContainerPort
				}
				for probe, p := range map[string]*struct {
					HTTPGet *struct {
						Path string `json:"path"`
						Port string `json:"port"`
					} `json:"httpGet"`
				}{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
					if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != probe {
						t.Errorf("%s: no probe of %s", where, probe)
						continue
					}
					if got := ports[p.HTTPGet.Port]; port == "" || got == 0 || strings.TrimLeft(port, "0") != strings.TrimLeft(itoa(got), "0") {
						t.Errorf("%s: probe of %s on port %s (%d), but --addr is %q", where, probe, p.HTTPGet.Port, got, given["addr"])
					}
				}
			}
		}
	}
	for _, want := range []string{"process", "serve", "migrate up", "token create"} {
		if commands[want] == "" {
			t.Errorf("k8s: nothing runs shopstream %s", want)
		}
	}
	procs := byKind["Deployment"]["shopstream-process"]
	if procs.Spec.Replicas == nil || *procs.Spec.Replicas < 2 {
		t.Errorf("k8s: the processors' Deployment wants two replicas or more")
	}
	pdb, ok := byKind["PodDisruptionBudget"]["shopstream-process"]
	if !ok || len(podsOf(pdb.Spec.Selector.MatchLabels)) != 1 || podsOf(pdb.Spec.Selector.MatchLabels)[0].Metadata.Name != "shopstream-process" || pdb.Spec.MinAvailable == nil {
		t.Errorf("k8s: no PodDisruptionBudget with minAvailable selecting the processors")
	}
	// Services select pods of a Deployment and target a port they name.
	for i, o := range objs {
		if o.Kind != "Service" {
			continue
		}
		sel, _ := raws[i]["spec"].(map[string]any)["selector"].(map[string]any)
		labels := map[string]string{}
		for k, v := range sel {
			labels[k], _ = v.(string)
		}
		pods := podsOf(labels)
		if len(pods) != 1 {
			t.Errorf("Service %s selects %d workloads, want one", o.Metadata.Name, len(pods))
			continue
		}
		for _, p := range o.Spec.Ports {
			found := false
			for _, c := range pods[0].Spec.Template.Spec.Containers {
				for _, cp := range c.Ports {
					found = found || cp.Name == p.TargetPort
				}
			}
			if !found {
				t.Errorf("Service %s: targetPort %v is no port of %s", o.Metadata.Name, p.TargetPort, pods[0].Metadata.Name)
			}
		}
	}
	// Secrets hold credentials, so they are no manifest here: every one a
	// pod mounts is created by the command docs/deploy.md gives, with every
	// key the pods read.
	doc := string(read(t, "../docs/deploy.md"))
	for _, kind := range []string{"Deployment", "Job"} {
		for name, o := range byKind[kind] {
			for _, v := range o.Spec.Template.Spec.Volumes {
				if v.Secret == nil {
					continue
				}
				if _, ok := byKind["Secret"][v.Secret.SecretName]; ok {
					continue
				}
				m := regexp.MustCompile(`kubectl -n shopstream create secret generic ` + regexp.QuoteMeta(v.Secret.SecretName) + ` ((?:\\\n|[^\n])*)`).FindStringSubmatch(doc)
				if m == nil {
					t.Errorf("%s %s: mounts Secret %s, which is neither a manifest nor created in docs/deploy.md", kind, name, v.Secret.SecretName)
					continue
				}
				for _, it := range v.Secret.Items {
					if !strings.Contains(m[1], "--from-file="+it.Key+"=") {
						t.Errorf("%s %s: reads key %s of Secret %s, which docs/deploy.md does not create", kind, name, it.Key, v.Secret.SecretName)
					}
				}
			}
		}
	}
	if !strings.HasPrefix(cm.Data["postgres"], "postgres://") || cm.Data["brokers"] == "" {
		t.Errorf("k8s: ConfigMap shopstream wants brokers and a postgres:// URL")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// declaredMetrics are the metric names the module's code declares (string
// literals "shopstream_..." in its non-test Go files).
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	re := regexp.MustCompile(`"(shopstream_[a-z0-9_]+)"`)
	err := filepath.WalkDir("../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		for _, m := range re.FindAllSubmatch(read(t, path), -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPrometheusAndGrafana(t *testing.T) {
	var c compose
	if err := yaml.Unmarshal([]byte(interpolated(string(read(t, "docker-compose.yml")), map[string]bool{})), &c); err != nil {
		t.Fatal(err)
	}
	var prom struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(read(t, "prometheus/prometheus.yml"), &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	// Every rule file Prometheus loads is mounted into its container from
	// a file here.
	if len(prom.RuleFiles) == 0 {
		t.Errorf("prometheus.yml: no rule_files (the alerting rules)")
	}
	for _, rf := range prom.RuleFiles {
		mounted := false
		for _, v := range c.Services["prometheus"].Volumes {
			src, rest, _ := strings.Cut(v, ":")
			if dst, _, _ := strings.Cut(rest, ":"); dst == rf {
				mounted = true
				mustExist(t, "prometheus.yml: rule file "+rf, src)
			}
		}
		if !mounted {
			t.Errorf("prometheus.yml: rule file %s is mounted from no file by the compose prometheus service", rf)
		}
	}
	scraped := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		if sc.MetricsPath != "/metrics" {
			t.Errorf("prometheus.yml: job %s scrapes %s", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, _ := strings.Cut(target, ":")
				s, ok := c.Services[host]
				if !ok {
					t.Errorf("prometheus.yml: target %s is no compose service", target)
					continue
				}
				if i := slices.IndexFunc(s.Command, func(a string) bool { return a == "--addr" }); i < 0 || s.Command[i+1] != ":"+port {
					t.Errorf("prometheus.yml: target %s, but %s listens on %v", target, host, s.Command)
				}
				scraped[host] = true
			}
		}
	}
	for name, s := range c.Services {
		if s.Image == image && slices.Contains(s.Command, "--addr") && !scraped[name] {
			t.Errorf("prometheus.yml: %s is not scraped", name)
		}
	}

	// Grafana reads its provisioning from /etc/grafana/provisioning (its
	// default GF_PATHS_PROVISIONING): the compose file mounts this
	// directory there, and every file in it is one checked below.
	graf := c.Services["grafana"]
	if v := graf.Environment["GF_PATHS_PROVISIONING"]; v != "" && v != "/etc/grafana/provisioning" {
		t.Errorf("grafana: GF_PATHS_PROVISIONING=%s; the mount below assumes /etc/grafana/provisioning", v)
	}
	if !slices.Contains(graf.Volumes, "./grafana/provisioning:/etc/grafana/provisioning:ro") {
		t.Errorf("grafana: compose does not mount ./grafana/provisioning at /etc/grafana/provisioning (volumes %v): Grafana would start with no data source and no dashboard", graf.Volumes)
	}
	for k, v := range graf.Environment {
		if secret, ok := strings.CutPrefix(v, "/run/secrets/"); ok && strings.HasSuffix(k, "__FILE") && !slices.Contains(graf.Secrets, secret) {
			t.Errorf("grafana: %s=%s, but the secret is not given to the service", k, v)
		}
	}
	provisioned, err := filepath.Glob("grafana/provisioning/*/*")
	if err != nil {
		t.Fatal(err)
	}
	checked := []string{"grafana/provisioning/dashboards/shopstream.yml", "grafana/provisioning/datasources/prometheus.yml"}
	if !slices.Equal(provisioned, checked) {
		t.Errorf("grafana/provisioning holds %v; this test checks %v: check the others too", provisioned, checked)
	}

	var ds struct {
		APIVersion  int                                     `json:"apiVersion"`
		Datasources []struct{ Name, UID, Type, URL string } `json:"datasources"`
	}
	if err := yaml.Unmarshal(read(t, "grafana/provisioning/datasources/prometheus.yml"), &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 {
		t.Errorf("grafana datasource: apiVersion %d, want 1", ds.APIVersion)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].UID == "" {
		t.Fatalf("grafana datasource: %+v, want the compose Prometheus, with a uid", ds.Datasources)
	}
	var dp struct {
		APIVersion int `json:"apiVersion"`
		Providers  []struct {
			Type    string `json:"type"`
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal(read(t, "grafana/provisioning/dashboards/shopstream.yml"), &dp); err != nil {
		t.Fatal(err)
	}
	if dp.APIVersion != 1 || len(dp.Providers) != 1 || dp.Providers[0].Type != "file" {
		t.Errorf("grafana dashboards provider: apiVersion %d, %+v; want apiVersion 1 and one provider of type file", dp.APIVersion, dp.Providers)
	}
	if len(dp.Providers) != 1 || !slices.Contains(graf.Volumes, "./grafana/dashboards:"+dp.Providers[0].Options.Path+":ro") {
		t.Errorf("grafana: the dashboards provider reads %+v, which compose does not mount from ./grafana/dashboards", dp.Providers)
	}

	// The provider loads every JSON file of the directory.
	dashboards, err := filepath.Glob("grafana/dashboards/*")
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("grafana/dashboards: no dashboard (%v)", err)
	}
	declared := declaredMetrics(t)
	for _, file := range dashboards {
		if !strings.HasSuffix(file, ".json") {
			t.Errorf("%s: the provider loads JSON dashboards only", file)
			continue
		}
		uid, panels := dashboardPanels(t, file)
		if uid == "" {
			t.Errorf("%s: no uid (Grafana would make a new one on every start, breaking links)", file)
		}
		used := 0
		for _, p := range panels {
			if p.Type == "row" {
				continue
			}
			if p.Datasource.UID != ds.Datasources[0].UID {
				t.Errorf("%s: panel %q: data source %q is not the provisioned one", file, p.Title, p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q plots nothing", file, p.Title)
			}
			for _, tg := range p.Targets {
				for _, m := range regexp.MustCompile(`shopstream_[a-z0-9_]+`).FindAllString(tg.Expr, -1) {
					used++
					base := m
					for _, suf := range []string{"_bucket", "_sum", "_count"} {
						if b, ok := strings.CutSuffix(m, suf); ok && declared[b] {
							base = b
						}
					}
					// The Kafka client's metrics are named by kprom, not
					// declared here; TestMetricsRulesAndDashboard checks them
					// (and every other) against the /metrics of a real run.
					if !declared[base] && !strings.HasPrefix(base, "shopstream_kafka_") {
						t.Errorf("%s: panel %q: metric %s is declared nowhere in the code", file, p.Title, m)
					}
				}
			}
		}
		if used == 0 {
			t.Errorf("%s: the dashboard uses no shopstream metric", file)
		}
	}
}

// dashPanel is what the tests read of a Grafana panel.
type dashPanel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	// Panels are those of a collapsed row.
	Panels []dashPanel `json:"panels"`
}

// dashboardPanels reads a Grafana dashboard and returns its uid and its
// panels, those inside collapsed rows included.
func dashboardPanels(t *testing.T, path string) (string, []dashPanel) {
	t.Helper()
	var dash struct {
		UID    string      `json:"uid"`
		Panels []dashPanel `json:"panels"`
	}
	if err := json.Unmarshal(read(t, path), &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []dashPanel
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if len(out) == 0 {
		t.Fatalf("%s: no panels", path)
	}
	return dash.UID, out
}

// TestDocs checks that docs/deploy.md names every deployment file.
func TestDocs(t *testing.T) {
	doc := string(read(t, "../docs/deploy.md"))
	files := []string{"Dockerfile", "deploy/docker-compose.yml", "deploy/.env.example", "deploy/prometheus/prometheus.yml", "deploy/prometheus/alerts.yml",
		"deploy/grafana/dashboards/shopstream.json", "deploy/compose-test.sh", "deploy/image-test.sh", "deploy/container-test.sh"}
	more, _ := filepath.Glob("k8s/*.yaml")
	local, _ := filepath.Glob("local/*")
	for _, f := range append(more, local...) {
		files = append(files, "deploy/"+f)
	}
	for _, f := range files {
		if !strings.Contains(doc, f) {
			t.Errorf("docs/deploy.md does not mention %s", f)
		}
	}
}

// TestLocalImages checks the stand-ins deploy/local/images.sh makes where
// no registry is reachable against what they stand in for: images.sh
// prints exactly the Dockerfile's image arguments and the compose file's
// image variables, each stand-in has its Dockerfile, and the Kafka jars
// are of the version of the compose file's apache/kafka tag.
func TestLocalImages(t *testing.T) {
	script := string(read(t, "local/images.sh"))
	m := regexp.MustCompile(`(?s)cat <<-VARS\n(.*?)\nVARS`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("local/images.sh: no cat <<-VARS ... VARS printing the variables")
	}
	var printed []string
	for _, line := range strings.Split(m[1], "\n") {
		k, _, _ := strings.Cut(strings.TrimSpace(line), "=")
		printed = append(printed, k)
	}
	var want []string
	for _, a := range regexp.MustCompile(`(?m)^ARG ([A-Z_]+_IMAGE)=`).FindAllStringSubmatch(string(read(t, "../Dockerfile")), -1) {
		want = append(want, a[1])
	}
	raw := string(read(t, "docker-compose.yml"))
	for _, name := range []string{"kafka", "postgres", "prometheus"} {
		v := regexp.MustCompile(`(?m)^  ` + name + `:\n(?:    .*\n)*?    image: \$\{([A-Z_]+):-`).FindStringSubmatch(raw)
		if v == nil {
			t.Errorf("docker-compose.yml: the image of %s is no ${VAR:-default}", name)
			continue
		}
		want = append(want, v[1])
		mustExist(t, "local/images.sh: stand-in for "+name, filepath.Join("local", name, "Dockerfile"))
	}
	mustExist(t, "local/images.sh: the Go image", "local/golang/Dockerfile")
	slices.Sort(printed)
	slices.Sort(want)
	if !slices.Equal(printed, want) {
		t.Errorf("local/images.sh prints %v, want the image variables of the Dockerfile and the compose file %v", printed, want)
	}
	tag := regexp.MustCompile(`image: \$\{KAFKA_IMAGE:-apache/kafka:([^}]+)\}`).FindStringSubmatch(raw)
	pom := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindStringSubmatch(string(read(t, "local/kafka/pom.xml")))
	if tag == nil || pom == nil || tag[1] != pom[1] {
		t.Errorf("local/kafka/pom.xml fetches Kafka %v, the compose file runs apache/kafka %v", pom, tag)
	}
}
