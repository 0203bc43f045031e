import json
from pathlib import Path
from comfy_helpers import Frontend, REPO

def test_explore(comfy):
    page = Frontend(comfy)
    p = page.page
    p.wait_for_function("() => window.SDPose && window.SDPose.openPoseEditor", timeout=30_000)
    wf = json.loads((REPO / "workflows" / "sdpose_vs_dwpose.json").read_text())
    page.evaluate("async (w) => { await app.loadGraphData(w, true, true, 'x'); }", wf)
    p.wait_for_timeout(1000)
    p.screenshot(path="/tmp/explore1.png")
    info = page.evaluate("""() => {
      const out = {ds: [app.canvas.ds.scale, ...app.canvas.ds.offset]};
      const rect = app.canvas.canvas.getBoundingClientRect();
      out.canvas = [rect.left, rect.top, rect.width, rect.height];
      out.els = [...document.querySelectorAll('body *')].filter(e => { const r = e.getBoundingClientRect();
         const s = getComputedStyle(e); return r.top < 150 && r.height > 10 && r.height < 200 && r.width > 300 && s.visibility !== 'hidden' && s.display !== 'none'; })
         .slice(0, 40).map(e => [e.tagName, e.className && String(e.className).slice(0, 80), e.id, Math.round(e.getBoundingClientRect().top), Math.round(e.getBoundingClientRect().bottom), Math.round(e.getBoundingClientRect().width)]);
      out.nodes = app.graph.nodes.map(n => [n.type, n.pos, n.size]);
      return out;
    }""")
    print(json.dumps(info, indent=1))
    page.close()
