import collections, hashlib, json, os, re, select, threading
import helper

results = {}
lock = threading.Lock()

def work(k):
    h = hashlib.sha256()
    for i in range(200):
        h.update(f"{k}:{i}".encode())
    with lock:
        results[k] = h.hexdigest()[:16]

threads = [threading.Thread(target=work, args=(k,)) for k in ("a", "b")]
for t in threads:
    t.start()
for t in threads:
    t.join()
text = "the cat and the hat and the bat sat on the mat"
counts = collections.Counter(re.findall(r"\b[a-z]+at\b|\bthe\b", text))
doc = {"threads": results, "top": counts.most_common(3), "md5": hashlib.md5(text.encode()).hexdigest(),
       "helper": helper.shout("ok"), "deque": list(collections.deque(range(10), maxlen=3)),
       "split": re.split(r"\s*,\s*", "a , b,c ,d")}
print(json.dumps(doc, sort_keys=True, indent=1))
print(json.loads(json.dumps({"x": [1, 2.5, None, True]})), threading.active_count())
r, w = os.pipe()
print("select empty", select.select([r], [], [], 0.05), "writable", select.select([], [w], [], 1)[1] == [w])
os.write(w, b"x")
p = select.poll()
p.register(r, select.POLLIN)
print("select ready", select.select([r], [], [], 5)[0] == [r], "poll", p.poll(5000) == [(r, select.POLLIN)])
os.close(w)
print("poll hup", p.poll(0))
