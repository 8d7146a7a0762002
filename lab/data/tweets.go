package data

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tunelab/tunelab/internal/atomicfile"
)

// TweetLabels are the disaster tweets' label names: Kaggle's target 0 is "not disaster",
// target 1 is "disaster" (so a label's id equals Kaggle's target).
var TweetLabels = []string{"not disaster", "disaster"}

// KaggleTweetsHelp says how to obtain the disaster tweets, which Kaggle serves only to
// signed-in users who accepted the competition rules.
const KaggleTweetsHelp = "download train.csv and test.csv from https://www.kaggle.com/competitions/nlp-getting-started/data " +
	"(or run `kaggle competitions download -c nlp-getting-started` and unzip it) into %s"

// ReadTweets reads one of Kaggle's nlp-getting-started files (train.csv with header
// id,keyword,location,text,target, or test.csv without target) from path. Examples of
// test.csv have no label. Records may end in CRLF with bare LF inside quoted tweets.
// It also returns the locations ("file:line") of rows skipped on request.
func ReadTweets(path string, opts Options) ([]Example, []string, error) {
	f, err := openCSV(path, ',')
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	header, _, err := f.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%s: empty file, want header id,keyword,location,text[,target]", path)
	}
	if err != nil {
		return nil, nil, err
	}
	idx, err := columns(path, header, "id", "keyword", "location", "text")
	if err != nil {
		return nil, nil, err
	}
	target, _ := columns(path, header, "target") // Absent in test.csv.
	check := rowChecker{opts: opts}
	var examples []Example
	for {
		rec, line, err := f.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		loc := f.loc(line)
		id, keyword, location, text := rec[idx[0]], rec[idx[1]], rec[idx[2]], rec[idx[3]]
		if id == "" {
			return nil, nil, fmt.Errorf("%s: empty id", loc)
		}
		if keep, err := check.check(loc, "text", text); err != nil {
			return nil, nil, err
		} else if !keep {
			continue
		}
		ex := Example{ID: id, Text: text}
		if opts.KeywordLocation {
			if ex.Text, err = foldKeywordLocation(loc, keyword, location, text); err != nil {
				return nil, nil, err
			}
		}
		if target != nil {
			t, err := strconv.Atoi(rec[target[0]])
			if err != nil || t < 0 || t >= len(TweetLabels) {
				return nil, nil, fmt.Errorf("%s: target %q, want 0 or 1", loc, rec[target[0]])
			}
			ex.Label = TweetLabels[t]
		}
		examples = append(examples, ex)
	}
	return examples, check.skipped, nil
}

func foldKeywordLocation(loc, keyword, location, text string) (string, error) {
	if !utf8.ValidString(keyword + location) {
		return "", fmt.Errorf("%s: keyword or location is not valid UTF-8", loc)
	}
	var b strings.Builder
	if keyword != "" {
		k, err := url.PathUnescape(keyword)
		if err != nil {
			return "", fmt.Errorf("%s: keyword %q is not %%-encoded text: %w", loc, keyword, err)
		}
		fmt.Fprintf(&b, "keyword: %s; ", k)
	}
	if location != "" {
		fmt.Fprintf(&b, "location: %s; ", location)
	}
	b.WriteString(text)
	return b.String(), nil
}

// LoadTweets reads dir/train.csv and dir/test.csv (Kaggle's layout) into a Dataset with
// splits "train" (labelled) and "test" (unlabelled, Kaggle's hidden test set).
func LoadTweets(dir string, opts Options) (*Dataset, error) {
	d := &Dataset{Name: "disaster tweets", Labels: TweetLabels, Splits: map[string][]Example{}}
	for _, split := range []string{Train, Test} {
		path := filepath.Join(dir, split+".csv")
		examples, skipped, err := ReadTweets(path, opts)
		if err != nil {
			return nil, err
		}
		noteSkipped(d, path, skipped)
		d.Splits[split] = examples
	}
	d.Notef("test is Kaggle's test.csv: unlabelled; its predictions go to a submission file (id,target) scored by F1 of %q", TweetLabels[1])
	if opts.KeywordLocation {
		d.Notef("texts are prefixed with the tweet's keyword and location")
	}
	return d, nil
}

// WriteSubmission writes Kaggle's submission file (header id,target) to path atomically:
// one row per id with its predicted label id (0 or 1, see TweetLabels).
func WriteSubmission(path string, ids []string, predictions []int) error {
	if len(ids) != len(predictions) {
		return fmt.Errorf("submission %s: %d ids but %d predictions", path, len(ids), len(predictions))
	}
	for i, p := range predictions {
		if p != 0 && p != 1 {
			return fmt.Errorf("submission %s: prediction %d for id %s, want 0 or 1", path, p, ids[i])
		}
		if ids[i] == "" || strings.ContainsAny(ids[i], ",\"\r\n") {
			return fmt.Errorf("submission %s: id %q at row %d is not a Kaggle id", path, ids[i], i+1)
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString("id,target\n")
		for i, id := range ids {
			fmt.Fprintf(bw, "%s,%d\n", id, predictions[i])
		}
		return bw.Flush()
	})
}
