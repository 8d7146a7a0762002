package data

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/tunelab/tunelab/internal/atomicfile"
)

// Checksum pins the content of a downloaded file.
type Checksum struct {
	// Algorithm is "sha256" or "md5" (only where no sha256 is published).
	Algorithm string
	// Hex is the lower-case hex digest.
	Hex string
}

func (c Checksum) String() string { return c.Algorithm + " " + c.Hex }

func (c Checksum) hash() (hash.Hash, error) {
	switch c.Algorithm {
	case "sha256":
		return sha256.New(), nil
	case "md5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("checksum algorithm %q, want sha256 or md5", c.Algorithm)
}

// Remote is a file of a dataset's official source.
type Remote struct {
	// URL to download it from.
	URL string
	// Name of the file in the dataset's directory.
	Name string
	// Sum is its pinned checksum.
	Sum Checksum
}

// IMDBRemote is the official IMDB archive (Maas et al. 2011), 84,125,825 bytes.
var IMDBRemote = Remote{
	URL:  "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
	Name: "aclImdb_v1.tar.gz",
	Sum:  Checksum{"sha256", "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"},
}

// AGNewsRemotes are the official ag_news_csv files, from the copy torchtext and Hugging Face's
// original loader download (the authors' own link is a Google Drive folder). train.csv is
// pinned by the md5 torchtext publishes, as no sha256 of it is published.
var AGNewsRemotes = []Remote{
	{
		URL:  "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
		Name: "test.csv",
		Sum:  Checksum{"sha256", "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699"},
	},
	{
		URL:  "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
		Name: "train.csv",
		Sum:  Checksum{"md5", "b1a00f826fdfbd249f79597b59e1dc12"},
	},
}

// Fetch downloads url into dest with client (http.DefaultClient if nil), verifying its
// checksum. dest appears only when the download is complete and matches sum: a failed,
// truncated or mismatching download leaves nothing behind.
func Fetch(ctx context.Context, client *http.Client, url, dest string, sum Checksum) error {
	if client == nil {
		client = http.DefaultClient
	}
	h, err := sum.hash()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(dest, func(w io.Writer) error {
		n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
		if err != nil {
			return fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("GET %s: got %d bytes, want %d", url, n, resp.ContentLength)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sum.Hex {
			return fmt.Errorf("GET %s: %s %s, want %s: not writing %s", url, sum.Algorithm, got, sum.Hex, dest)
		}
		return nil
	})
}
