package provision

import (
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// normalize returns a deep copy of v as a JSON-compatible document: maps with string keys,
// []any, string, bool, nil, int64 for whole numbers that fit and float64 otherwise. Score
// params come from whichever YAML decoder loaded them (int, uint64, float32, map[any]any, ...);
// normalising them once means templates and outputs see the same types on every run.
func normalize(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, int64:
		return v, nil
	case float64:
		return normFloat(v)
	case float32:
		return normFloat(float64(v))
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case uint:
		return normUint(uint64(v)), nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint64:
		return normUint(v), nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, c := range v {
			n, err := normalize(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, c := range v {
			ks := fmt.Sprint(k)
			n, err := normalize(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			out[ks] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			n, err := normalize(c)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	}
	// Named map and slice types (score-go's ResourceParams and friends).
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			iter := rv.MapRange()
			for iter.Next() {
				n, err := normalize(iter.Value().Interface())
				if err != nil {
					return nil, fmt.Errorf("%s: %w", iter.Key().String(), err)
				}
				out[iter.Key().String()] = n
			}
			return out, nil
		}
	case reflect.Slice:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	case reflect.String:
		return rv.String(), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// normalizeMap normalises a map; nil stays nil.
func normalizeMap(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	n, err := normalize(m)
	if err != nil {
		return nil, err
	}
	return n.(map[string]any), nil
}

func normFloat(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v is not a number JSON or Kubernetes can hold", f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), nil
	}
	return f, nil
}

func normUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return float64(u)
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return manifest.DeepCopy(m).(map[string]any)
}

// mergeInto deep-merges patch into dst: maps merge key by key, a nil value deletes the key,
// anything else replaces. This is how a resource's shared template updates the shared state.
func mergeInto(dst, patch map[string]any) {
	for k, pv := range patch {
		if pv == nil {
			delete(dst, k)
			continue
		}
		pm, pIsMap := pv.(map[string]any)
		dm, dIsMap := dst[k].(map[string]any)
		if pIsMap && dIsMap {
			mergeInto(dm, pm)
			continue
		}
		dst[k] = manifest.DeepCopy(pv)
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
