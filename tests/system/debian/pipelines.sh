# busybox sh: pipelines, subshells, command substitution, background jobs,
# xargs, find -exec, time.  Runs in an empty scratch directory; every command
# is found through PATH (the guest's /usr/bin:/bin) or is a busybox applet.
printf '%s\n' pear apple fig apple kiwi pear apple | sort | uniq -c | sort -rn
words=$(echo "one two three four" | wc -w)
echo "words: $words"
echo "nested: $(echo "$(echo inner | tr a-z A-Z)-$(printf %s abc | wc -c)")"
( cd /; echo "subshell in $(pwd)"; exit 3 ); echo "subshell status $?"
echo "after subshell in ${PWD##*/}" | sed 's/in .*/in scratch/'
x=outer; ( x=inner; echo "x=$x" ); echo "x=$x"
for i in 1 2 3 4; do (echo "job $i" > "out.$i") & done; wait
cat out.* | sort -r
sleep 5 & pid=$!; kill -TERM $pid; wait $pid; echo "killed job status $?"
sh -c 'exit 7'; echo "child sh status $?"
seq 1 10 | xargs -n 3 echo
mkdir -p tree/a/b tree/c; touch tree/a/x.txt tree/a/b/y.txt tree/c/z.txt tree/c/skip.log
find tree -name '*.txt' -exec basename {} \; | sort
find tree -type f | sort | xargs wc -c | tail -1
seq 1 200 | awk '{ s += $1 * $1 } END { print "sum of squares", s }'
echo "The quick brown fox" | cut -d' ' -f2- | rev
printf 'b 2\na 10\nc 1\n' | sort -k2,2n | head -2
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "loop $i"
case "riscv64" in risc*) echo "case match";; *) echo "case miss";; esac
echo "sha: $(echo hello | sha256sum | cut -c1-16)"
echo "gzip: $(seq 1 500 | gzip -c | gzip -dc | md5sum | cut -c1-12)"
time sleep 0
read first < out.1; echo "read from a file: $first"
echo abc | (read y; echo "read from a pipe: $y")
(sleep 3; echo late) | (read -t 0.2 z; echo "read -t: status $? [$z]"; read w; echo "then: $w")
echo done
