package main

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/viper"

	"github.com/vigilkv/vigil/node/config"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "VIGIL_SENTINEL_"

// envName is a flag's environment variable: --down-after-milliseconds is
// VIGIL_SENTINEL_DOWN_AFTER_MILLISECONDS.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyYAMLAndEnv sets the flags the command line left alone from the YAML
// file (if any) and then the environment, which wins over the file. A
// list in YAML (monitor, join) gives the flag each element; a monitor
// variable in the environment separates groups with ';'.
func applyYAMLAndEnv(fs *flag.FlagSet, yamlFile string, getenv func(string) string) error {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	type setting struct {
		source string
		vals   []string
	}
	settings := map[string]setting{}
	if yamlFile != "" {
		v := viper.New()
		v.SetConfigFile(yamlFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("reading YAML config %s: %w", yamlFile, err)
		}
		keys := v.AllKeys()
		sort.Strings(keys)
		for _, k := range keys {
			source := config.YAMLSource(yamlFile, k)
			if k == "config" || fs.Lookup(k) == nil {
				return fmt.Errorf("%s: unknown setting", source)
			}
			var vals []string
			switch x := v.Get(k).(type) {
			case []any:
				for _, e := range x {
					vals = append(vals, fmt.Sprint(e))
				}
				if k == "join" {
					vals = []string{strings.Join(vals, ",")}
				}
			default:
				vals = []string{fmt.Sprint(x)}
			}
			settings[k] = setting{source, vals}
		}
	}
	if getenv != nil {
		fs.VisitAll(func(f *flag.Flag) {
			env := envName(f.Name)
			val := getenv(env)
			if val == "" || f.Name == "config" {
				return
			}
			vals := []string{val}
			if f.Name == "monitor" {
				vals = strings.Split(val, ";")
			}
			settings[f.Name] = setting{"environment variable " + env, vals}
		})
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if onCommandLine[name] {
			continue
		}
		st := settings[name]
		for _, v := range st.vals {
			if err := fs.Set(name, strings.TrimSpace(v)); err != nil {
				return fmt.Errorf("%s: bad value %q: %v", st.source, v, err)
			}
		}
	}
	return nil
}
