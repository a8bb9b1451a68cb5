/// The gallery page: plain HTML, CSS and JavaScript, compiled into the
/// binary (no build step, no CDN: it works offline). The page keeps its
/// query in the address (`/?q=…&after=…`), so searches can be bookmarked
/// and the back button works.
enum GalleryPage {
    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>photosearch</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/app.css">
    <script src="/app.js" defer></script>
    </head>
    <body>
    <header>
      <form id="search" autocomplete="off">
        <input id="q" name="q" type="search" placeholder="Describe a photo — a dog on the beach at sunset — or name:IMG_10*   (press / to type)" aria-label="Search">
        <button type="submit">Search</button>
        <label class="pick">or an example photo <input id="file" type="file" accept="image/jpeg,image/png,image/webp,image/heic,image/heif"></label>
      </form>
      <details id="filters">
        <summary>Filters</summary>
        <label>after <input id="after" list="dates" placeholder="YYYY[-MM[-DD]]" size="11"></label>
        <label>before <input id="before" list="dates" placeholder="YYYY[-MM[-DD]]" size="11"></label>
        <datalist id="dates"></datalist>
        <label>in folder <input id="in" placeholder="/home/me/Pictures/2024" size="28"></label>
        <label>place <input id="place" list="place-names" placeholder="Lisbon, Portugal, 東京…" size="16"></label>
        <label>near <input id="near" placeholder="lat,lon[,km]" size="16"></label>
        <label>camera <input id="camera" placeholder="iPhone 12" size="12"></label>
        <datalist id="place-names"></datalist>
        <button type="button" id="show-places">Places</button>
        <label>order <select id="sort"><option value="score">best match</option><option value="date">newest first</option></select></label>
      </details>
      <p id="status" role="status">…</p>
    </header>
    <main>
      <p id="message" hidden></p>
      <p id="count" role="status" hidden></p>
      <ol id="grid"></ol>
      <div id="more" aria-hidden="true"></div>
      <section id="places" hidden></section>
    </main>
    <div id="viewer" role="dialog" aria-modal="true" aria-label="Photo" hidden>
      <button id="close" aria-label="Close">×</button>
      <button id="previous" aria-label="Previous photo">‹</button>
      <button id="next" aria-label="Next photo">›</button>
      <img id="large" alt="">
      <dl id="details"></dl>
      <p id="actions"><button id="similar">Similar photos</button> <a id="download" download>Download</a></p>
    </div>
    </body>
    </html>
    """

    static let style = """
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #111; color: #eee; }
    header { position: sticky; top: 0; z-index: 1; background: #1b1b1b; padding: .6em 1em; border-bottom: 1px solid #333; }
    #search { display: flex; gap: .5em; flex-wrap: wrap; align-items: center; }
    #q { flex: 1 1 30em; font-size: 1.1em; padding: .4em .6em; border-radius: 6px; border: 1px solid #555; background: #222; color: #eee; }
    button { font: inherit; padding: .4em .9em; border-radius: 6px; border: 1px solid #555; background: #333; color: #eee; cursor: pointer; }
    .pick { font-size: .9em; color: #aaa; }
    #filters { margin-top: .4em; font-size: .9em; color: #bbb; }
    #filters label { margin-right: 1em; display: inline-block; white-space: nowrap; }
    #filters input, #filters select { background: #222; color: #eee; border: 1px solid #555; border-radius: 4px; padding: .2em .4em; }
    #status { margin: .3em 0 0; font-size: .85em; color: #999; }
    main { padding: 1em; }
    #message { padding: 1em; background: #222; border-radius: 8px; }
    #message.error { background: #4a1f1f; }
    #grid { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: .6em; }
    #grid li { position: relative; background: #222; border-radius: 6px; overflow: hidden; cursor: pointer; outline: none; }
    #grid li:focus, #grid li.current { box-shadow: 0 0 0 3px #4a90e2; }
    #more { height: 1px; }
    #grid li.month { grid-column: 1 / -1; background: none; cursor: default; font-weight: 600; padding: .6em 0 0; }
    /* Weaker matches: their photos dimmed, their text as legible as any (a dimmed tile's was 4:1). */
    #grid li.weaker img { opacity: .55; }
    #grid li.fold { grid-column: 1 / -1; background: none; cursor: default; padding: .4em 0; }
    #count { margin: 0 0 .6em; font-size: .9em; color: #aaa; }
    #message button { margin-left: .6em; }
    #grid img { display: block; width: 100%; height: 180px; object-fit: cover; }
    #grid .meta { display: flex; justify-content: space-between; font-size: .8em; padding: .25em .5em; color: #bbb; }
    #viewer { position: fixed; inset: 0; z-index: 2; background: rgba(0,0,0,.92); display: flex; flex-direction: column; align-items: center; justify-content: center; padding: 1em; }
    #viewer[hidden] { display: none; }
    /* A swipe across an open photo moves to the next: not the browser's
       swipe-back, nor a scroll of the page behind. */
    html:has(#viewer:not([hidden])) { overscroll-behavior: none; }
    #viewer { touch-action: pan-y pinch-zoom; overscroll-behavior: contain; }
    #large { max-width: 96vw; max-height: 72vh; object-fit: contain; }
    #details { display: grid; grid-template-columns: auto auto; gap: .1em 1em; font-size: .9em; color: #ccc; max-width: 90vw; word-break: break-all; }
    #details dt { color: #888; }
    #close { position: absolute; top: .5em; right: .8em; font-size: 1.5em; }
    #previous, #next { position: absolute; top: 45%; font-size: 2em; }
    #previous { left: .4em; } #next { right: .4em; }
    #previous[disabled], #next[disabled] { visibility: hidden; }
    #download { color: #9cf; margin-left: 1em; }
    button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, a:focus-visible { outline: 2px solid #4a90e2; outline-offset: 2px; }
    body.dragging main { outline: 3px dashed #4a90e2; }
    #filters button { padding: .1em .6em; font-size: .95em; }
    #places h2 { font-size: 1em; margin: 1em 0 .3em; color: #ddd; }
    #places ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .4em; }
    #places button { font-size: .9em; padding: .2em .6em; }
    #places .count { color: #999; margin-left: .4em; }
    /* Phones: three columns of small tiles, a header that scrolls away, the
       viewer over everything, edge to edge. */
    @media (max-width: 600px) {
      header { position: static; padding: .4em .5em; }
      main { padding: .4em; }
      #grid { grid-template-columns: repeat(3, 1fr); gap: .25em; }
      #grid img { height: 28vw; }
      #grid .meta { font-size: .65em; padding: .1em .25em; }
      #viewer { z-index: 10; padding: 0; background: #000; }
      #large { width: 100vw; max-height: 70vh; }
      #previous, #next { top: auto; bottom: .5em; }
      #details { font-size: .8em; }
    }
    """

    static let script = """
    'use strict';
    const $ = (id) => document.getElementById(id);
    const fields = ['q', 'after', 'before', 'in', 'place', 'near', 'camera', 'sort'];
    const filterFields = ['after', 'before', 'in', 'place', 'near', 'camera'];
    let results = [];
    let current = -1;
    let shown = null;

    function paramsFromForm() {
      const params = new URLSearchParams();
      for (const name of fields) {
        const value = $(name).value.trim();
        if (value && !(name === 'sort' && value === 'score')) params.set(name, value);
      }
      // Photos like one, with no text typed since: a filter changed keeps them.
      const similar = new URLSearchParams(location.search).get('similar');
      if (similar && !params.get('q')) params.set('similar', similar);
      return params;
    }

    // The filters on screen, for a request: everything but the query and the order.
    function filtersFromForm() {
      const params = paramsFromForm();
      for (const name of ['q', 'sort', 'similar']) params.delete(name);
      return params;
    }

    function formFromURL() {
      const params = new URLSearchParams(location.search);
      for (const name of fields) $(name).value = params.get(name) || (name === 'sort' ? 'score' : '');
      if (filterFields.some(name => params.get(name))) $('filters').open = true;
      return params;
    }

    function say(text, isError) {
      const message = $('message');
      message.hidden = !text;
      message.textContent = text || '';
      message.className = isError ? 'error' : '';
    }

    // A server busy with others' requests (503) says when to come back
    // (Retry-After): asked again then, up to twice (`tries`), before the
    // failure is shown.
    async function api(url, options, tries = 3) {
      const response = await fetch(url, options);
      let body = null;
      try { body = await response.json(); } catch (e) { /* not JSON */ }
      const later = Number(response.headers.get('Retry-After') || NaN);
      if (response.status === 503 && tries > 1 && later >= 0 && later <= 10) {
        await new Promise(resolve => setTimeout(resolve, later * 1000));
        return api(url, options, tries - 1);
      }
      if (!response.ok) {
        const error = new Error((body && body.error) || ('the server answered ' + response.status));
        error.status = response.status;
        throw error;
      }
      return body;
    }

    const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

    // What the grid shows, a page at a time: `source` is the request for
    // the first page ({url, options, param (offset or cursor), timeline,
    // ranked}); `next` the following page's, null after the last. Weaker
    // matches (well below the best; see the README) wait in `held` behind
    // "show weaker matches" until asked for, unless no result is better.
    let listing = null;
    async function list(source) {
      listing = Object.assign({next: null, first: true, loading: false, held: [], folded: true, total: 0}, source);
      $('places').hidden = true;
      // A new listing is read from its top (not from where the last one was left).
      window.scrollTo(0, 0);
      await more(listing);
    }

    // The next page of `source` (its first, at first); a call while one is
    // on its way waits for that one. After a page failed, only its "Try
    // again" asks (scrolling at the end asked again and again).
    async function more(source = listing) {
      if (!source || source !== listing || source.broken || (!source.first && source.next == null) || (source.held.length && source.folded)) return;
      if (source.loading) return source.loading;
      source.loading = nextPage(source);
      return source.loading;
    }

    async function nextPage(source) {
      const append = !source.first;
      let url = source.url;
      if (append) url += (url.includes('?') ? '&' : '?') + source.param + '=' + encodeURIComponent(source.next);
      if (!append) say(source.waiting);
      try {
        const body = await api(url, source.options);
        if (source !== listing) return;   // a newer request replaced it
        if ($('failed-more')) $('failed-more').remove();
        source.next = body.next;
        source.total = body.total;
        let shown = body.results;
        if (source.folded) {
          // Nothing good at all: show the closest, unfolded.
          if (!append && shown.length && shown[0].weaker) source.folded = false;
          const weaker = shown.findIndex(hit => hit.weaker);
          if (source.folded && weaker >= 0) { source.held = shown.slice(weaker); shown = shown.slice(0, weaker); }
        }
        render(shown, source.timeline, append);
        if (source.held.length) fold();
        if (source.first) {
          source.stamp = indexStamp;
          if ($('changed')) $('changed').remove();
        }
        source.first = false;
        say(body.results.length || append ? '' : source.empty);
        summarise();
      } catch (error) {
        source.broken = true;
        if (source !== listing) return;
        const retry = () => { source.broken = false; more(source); };
        if (append) failedBelow(error, retry); else { render([]); failed(error, retry); }
      } finally {
        source.loading = null;
      }
      // Still in view (a tall window, a short page): the observer, which
      // speaks only when that changes, would not ask again.
      if (source === listing && moreToCome() && nearEnd()) more(source);
    }

    // Whether the end of the grid is within 600 px of the window, as laid out now.
    function nearEnd() { return $('more').getBoundingClientRect().top < window.innerHeight + 600; }

    // Whether the grid has further results to load (not folded away).
    function moreToCome() { return !!listing && listing.next != null && !(listing.held.length && listing.folded); }

    // The "show weaker matches" button after the good ones.
    function fold() {
      if ($('unfold')) return;
      const item = document.createElement('li');
      item.className = 'fold';
      const button = document.createElement('button');
      button.id = 'unfold';
      button.type = 'button';
      button.textContent = 'Show weaker matches';
      button.addEventListener('click', unfold);
      item.append(button);
      $('grid').append(item);
    }

    function unfold() {
      if (!listing || !listing.folded) return;
      const focusNext = document.activeElement === $('unfold');
      listing.folded = false;
      const item = $('unfold').parentElement;
      item.className = 'month';
      item.setAttribute('role', 'heading');
      item.textContent = 'Weaker matches';
      const start = results.length;
      render(listing.held, false, true);
      listing.held = [];
      summarise();
      if (focusNext) select(start);
      more(listing);
    }

    // The count above the grid.
    function summarise() {
      const source = listing, line = $('count');
      if (!source || !results.length) { line.hidden = true; return; }
      const of = source.total.toLocaleString('en') + (source.total === 1 ? ' photo' : ' photos');
      let text;
      if (source.timeline) {
        text = of + (source.filtered ? ' match the filters' : '') + ', newest first';
      } else if (!source.ranked) {
        text = results.length + (source.next != null ? '+' : '') + ' of ' + of + ', most alike first';
      } else {
        const likely = results[0].probability != null;
        const good = results.filter(hit => !hit.weaker).length;
        const noun = likely ? (good === 1 ? ' likely match' : ' likely matches') : (good === 1 ? ' good match' : ' good matches');
        if (!good) text = (likely ? 'No photo is likely to match' : 'No photo matches well') + '; the closest of ' + of + ' first';
        else text = good + (source.next != null && !source.held.length && !results.some(hit => hit.weaker) ? '+' : '') + noun + ' among ' + of
          + (source.held.length ? '; weaker ones are folded below' : '');
      }
      line.textContent = text;
      line.hidden = false;
    }

    // The tiles of `list`; a timeline's under a heading per month; `append`
    // adds the next page below the last.
    function render(list, timeline, append) {
      const grid = $('grid');
      const start = append ? results.length : 0;
      let month = append && start ? (results[start - 1].taken_at || '').slice(0, 7) : null;
      if (append) {
        results = results.concat(list);
      } else {
        results = list;
        current = -1;
        grid.textContent = '';
        summarise();
      }
      list.forEach((hit, offset) => {
        const index = start + offset;
        const itsMonth = (hit.taken_at || '').slice(0, 7);
        if (timeline && itsMonth !== month) {
          month = itsMonth;
          const heading = document.createElement('li');
          heading.className = 'month';
          heading.setAttribute('role', 'heading');
          heading.textContent = itsMonth ? months[Number(itsMonth.slice(5, 7)) - 1] + ' ' + itsMonth.slice(0, 4) : 'Undated';
          grid.append(heading);
        }
        const item = document.createElement('li');
        if (hit.weaker) item.classList.add('weaker');
        item.tabIndex = 0;
        item.dataset.id = hit.id;
        if (hit.place) item.title = placeText(hit.place);
        const image = document.createElement('img');
        image.loading = 'lazy';
        image.src = hit.thumbnail;
        // (Its name, not its whole path, is what a screen reader reads of a tile.)
        image.alt = shownText((hit.path || '').split('/').pop());
        const meta = document.createElement('div');
        meta.className = 'meta';
        const score = document.createElement('span');
        // A query of filters alone (name:IMG_10*) ranks nothing: no score.
        score.textContent = hit.probability != null ? Math.round(hit.probability * 100) + ' %' : hit.score != null ? hit.score.toFixed(3) : '';
        if (hit.probability != null) score.title = 'match probability (score ' + hit.score.toFixed(3) + ')';
        const date = document.createElement('span');
        date.textContent = hit.taken_at ? hit.taken_at.slice(0, 10) : '';
        meta.append(score, date);
        item.append(image, meta);
        item.addEventListener('click', () => open(index));
        grid.append(item);
      });
    }

    // "Lisbon, Portugal": the region only when it is not the place's own name.
    function placeText(place) {
      const parts = [place.name];
      if (place.region && place.region !== place.name) parts.push(place.region);
      parts.push(place.country);
      return parts.join(', ');
    }

    // Each listing belongs to a history entry: its `entry` in
    // history.state (the viewer's entries carry their listing's), by which
    // Back and Forward find it again. (An address alone cannot tell a
    // dropped photo's results from the timeline, both at "/".)
    let shownEntry = null;
    const newEntry = () => Math.random().toString(36).slice(2) + Date.now().toString(36);
    const entryOf = (state) => state && state.entry;

    // A new listing's history entry (a search, similar photos, a dropped
    // photo), the one shown left first; it is shown anew.
    function pushListing(url) {
      leave();
      shownEntry = newEntry();
      history.pushState({entry: shownEntry}, '', url);
      shownKey = null;
    }

    // What the address asks for: the results (run again only when more
    // than the photo shown changed), and that photo large, if any.
    let shownKey = null;
    // `returning`: Back or Forward, which bring the listing left at that
    // entry back as it was.
    async function run(params, returning = false) {
      const photo = params.get('photo');
      const key = new URLSearchParams(params);
      key.delete('photo');
      const entry = entryOf(history.state);
      if (returning ? entry !== shownEntry : key.toString() !== shownKey) {
        if (returning) leave();
        shownKey = key.toString();
        shownEntry = entry;
        hideViewer();
        const saved = returning && left.get(entry);
        if (saved) returnTo(saved); else await show(key);
      }
      if (!photo) { hideViewer(); return; }
      // A weaker match folded away: unfolded, as the person who shared the address saw it.
      if (listing && listing.folded && listing.held.some(hit => String(hit.id) === photo)) unfold();
      let index = results.findIndex(hit => String(hit.id) === photo);
      if (index >= 0) { select(index, false); await showPhoto(results[index], index, 'none'); return; }
      // Beyond the first page (a shared link, a reload): shown at once, then
      // looked for in the next pages, 20 at most, so that previous and next
      // lead on from it and closing shows its tile.
      const opened = showPhoto({id: photo, file: '/api/photos/' + encodeURIComponent(photo) + '/file', path: ''}, -1, 'none');
      for (let pages = 0; index < 0 && pages < 20 && moreToCome(); pages++) {
        await more();
        if (!shown || String(shown.id) !== photo) return;    // moved on meanwhile
        index = results.findIndex(hit => String(hit.id) === photo);
      }
      await opened;
      if (index >= 0 && shown && String(shown.id) === photo) { select(index, false); await showPhoto(results[index], index, 'none'); }
    }

    // The listings left for another (a search, similar photos), by their
    // history entry, the last 10: Back to a timeline scrolled through for
    // minutes finds its pages, its tiles (their thumbnails loaded) and the
    // place it was read at, as a photo app does, not its first page at the top.
    const left = new Map();
    function leave() {
      if (shownEntry == null || !listing) return;
      left.delete(shownEntry);
      left.set(shownEntry, {listing, results, current, scroll: window.scrollY, tiles: [...$('grid').childNodes]});
      while (left.size > 10) left.delete(left.keys().next().value);
    }

    function returnTo(saved) {
      listing = saved.listing;
      results = saved.results;
      $('places').hidden = true;
      $('grid').replaceChildren(...saved.tiles);
      say(results.length ? '' : listing.empty);
      summarise();
      window.scrollTo(0, saved.scroll);
      if (saved.current >= 0) select(saved.current, false);
      if (moreToCome() && nearEnd()) more(listing);
    }

    // The filters and the order of `params` for a request, without the query.
    function requestFilters(params) {
      const query = new URLSearchParams(params);
      for (const name of ['q', 'similar']) query.delete(name);
      return query;
    }

    async function show(params) {
      const filters = requestFilters(params);
      if (params.get('similar') && !params.get('q')) {
        await list({url: '/api/similar/' + encodeURIComponent(params.get('similar')) + '?' + filters.toString(), param: 'offset',
                    waiting: 'Finding similar photos…', empty: 'No similar photos.'});
        return;
      }
      if (!params.get('q')) {
        filters.delete('sort');
        await list({url: '/api/timeline?' + filters.toString(), param: 'cursor', timeline: true, filtered: filters.toString() !== '',
                    empty: filters.toString() ? 'No photos match the filters.' : emptyMessage});
        return;
      }
      await list({url: '/api/search?' + params.toString(), param: 'offset', ranked: true, waiting: 'Searching…',
                  empty: 'No photos match. Try other words, or fewer filters.'});
    }

    // What a failed request says in `element`, in words, and a way to try
    // again there when trying again can help (no answer, busy, a timeout, a
    // server error), not after a mistake in the request (a bad date: 4xx);
    // `clear` takes the words away before it tries.
    function explain(element, error, retry, clear) {
      const offline = error instanceof TypeError;   // fetch's own: no answer at all
      element.textContent = offline ? 'The photosearch server did not answer: it may have stopped, or this computer is offline.' : error.message;
      if (!retry || !(offline || error.status === 408 || error.status >= 500)) return null;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Try again';
      button.addEventListener('click', () => { clear(); retry(); });
      element.append(' ', button);
      return button;
    }

    // A request that failed, said above the grid.
    function failed(error, retry) {
      const message = $('message');
      message.hidden = false;
      message.className = 'error';
      const button = explain(message, error, retry, () => say(''));
      if (button) button.id = 'retry';
    }

    // A later page that failed: said at the end of the grid, where the
    // reader is (the message above is a screenful away), with its button.
    function failedBelow(error, retry) {
      if ($('failed-more')) $('failed-more').remove();
      const item = document.createElement('li');
      item.className = 'fold';
      item.id = 'failed-more';
      item.setAttribute('role', 'alert');
      explain(item, error, retry, () => item.remove());
      $('grid').append(item);
    }

    let emptyMessage = '';
    // The index's generation at the last look: a listing keeps the one it
    // was loaded at.
    let indexStamp = null;
    async function refreshStatus() {
      try {
        const status = await api('/api/status', undefined, 1);   // (asked every 5 s anyway)
        let text = status.photos + ' photos indexed';
        if (status.failed) text += ', ' + status.failed + ' could not be read';
        if (status.model) text += ' · model ' + status.model + ' (' + status.precision + ')';
        if (status.model && status.embedded < status.photos) {
          text += ' · ' + (status.photos - status.embedded) + ' not searchable until an index run embeds them with this model';
        }
        if (status.indexing && status.indexing.state === 'indexing') text += ' · indexing ' + status.indexing.done + '/' + status.indexing.total;
        if (status.indexing && status.indexing.state === 'failed') text += ' · indexing failed: ' + status.indexing.error;
        if (status.indexing && status.indexing.state === 'stopped') text += ' · indexing stopped: ' + status.indexing.error;
        $('status').textContent = text;
        // The index changed since what is shown was asked for (a run here or
        // in another process embedded or removed photos): offered, not
        // forced on a reader mid-scroll.
        indexStamp = status.generation;
        if (listing && listing.stamp && listing.stamp !== indexStamp && !listing.first) {
          const notice = document.createElement('span'), fresh = document.createElement('button');
          notice.id = 'changed';
          fresh.id = 'fresh';
          fresh.type = 'button';
          fresh.textContent = 'Show what is new';
          fresh.addEventListener('click', () => { shownKey = null; run(formFromURL()); });
          notice.append(' · the index has changed ', fresh);
          $('status').append(notice);
        }
        // Examples in the languages the model answers.
        const examples = {'chinese-english': 'a dog on the beach at sunset, 海边的日落',
                          'multilingual': 'a dog on the beach at sunset, 海边的日落, Hund am Strand'};
        $('q').placeholder = 'Describe a photo — ' + (examples[status.query_languages] || 'a dog on the beach at sunset')
          + ' — or name:IMG_10*   (press / to type)';
        emptyMessage = status.photos ? 'Type what you are looking for, or drop a photo here to find similar ones.'
          : (status.model ? 'The index is empty: run  photosearch index ~/Pictures  and the photos appear here.'
                          : 'There is no index yet: run  photosearch index ~/Pictures  first.');
      } catch (error) {
        $('status').textContent = error instanceof TypeError ? 'The photosearch server does not answer: it may have stopped.'
                                                             : 'Status unavailable: ' + error.message;
      }
    }

    // "Tue 9 Jan 2024, 12:38" from "2024-01-09T12:38:00[+01:00]": the
    // time as the camera or the file gave it, no zone conversion.
    function humanDate(text) {
      const match = /^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2})/.exec(text || '');
      if (!match) return text || '—';
      const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
      const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][new Date(Date.UTC(year, month - 1, day)).getUTCDay()];
      return weekday + ' ' + day + ' ' + months[month - 1].slice(0, 3) + ' ' + year + ', ' + match[4] + ':' + match[5];
    }

    // The address with the photo shown, or without one.
    function addressWith(photo) {
      const params = new URLSearchParams(location.search);
      if (photo) params.set('photo', photo); else params.delete('photo');
      return params.toString() ? '/?' + params.toString() : '/';
    }

    // Shows result `index` large. Opening from the grid adds a history
    // entry (Back closes it); moving to the previous or next replaces it.
    async function open(index, history_ = 'push') {
      // Past the last loaded: the next page first.
      if (index === results.length && moreToCome()) await more();
      const hit = results[index];
      if (!hit) return;
      select(index, false);
      await showPhoto(hit, index, history_);
    }

    let detailsTicket = 0;
    async function showPhoto(hit, index, history_) {
      if (history_ === 'push' && $('viewer').hidden) history.pushState({viewer: true, entry: shownEntry}, '', addressWith(hit.id));
      else if (history_ !== 'none') history.replaceState(history.state, '', addressWith(hit.id));
      shown = hit;
      current = index;
      $('large').src = hit.file;
      $('large').alt = shownText(hit.path);
      $('download').href = hit.file;
      // A HEIF photo's file is served as a JPEG rendering: named so.
      $('download').setAttribute('download', (hit.path || '').split('/').pop().replace(/\\.(heic|heif)$/i, '.jpg'));
      if ($('viewer').hidden) {
        // Keys and Tab stay in the viewer; it hands focus back on closing.
        $('viewer').hidden = false;
        for (const part of ['header', 'main']) document.querySelector(part).inert = true;
        $('close').focus();
      }
      $('previous').disabled = !(index > 0);
      $('next').disabled = !(index >= 0 && (index < results.length - 1 || moreToCome()));
      const details = $('details');
      details.textContent = '';
      // Each call's own ticket: moved on meanwhile (arrows held on a slow
      // link, even back to this photo), a later call shows its own answer.
      const ticket = ++detailsTicket;
      try {
        const photo = await api('/api/photos/' + hit.id);
        if (ticket !== detailsTicket) return;
        const rows = [['path', shownText(photo.path)], ['date', photo.taken_at ? humanDate(photo.taken_at) + (photo.date_source === 'file' ? ' (file time: the photo has no date)' : '') : '—'], ['camera', photo.camera || '—'],
          ['size', (photo.width && photo.height) ? photo.width + ' × ' + photo.height : '—'],
          ['place', photo.place ? placeText(photo.place) + (photo.place.distance_km >= 1 ? ' (' + photo.place.distance_km.toFixed(0) + ' km away)' : '')
                                : (photo.latitude != null ? 'more than 100 km from any town' : '—')],
          ['GPS', photo.latitude != null ? photo.latitude.toFixed(5) + ', ' + photo.longitude.toFixed(5) : '—']];
        if (hit.copies && hit.copies.length) rows.push(['copies', (hit.copies.length + 1) + ' files with these bytes; also ' + hit.copies.map(shownText).join(', ')]);
        for (const [name, value] of rows) {
          const dt = document.createElement('dt'); dt.textContent = name;
          const dd = document.createElement('dd'); dd.textContent = value;
          details.append(dt, dd);
        }
      } catch (error) {
        if (ticket !== detailsTicket) return;
        const dd = document.createElement('dd'); dd.textContent = error.message; details.append(dd);
      }
    }

    // A name as text to read: Unicode's bidirectional controls, which make
    // "gpj.exe" read as "exe.jpg", shown as \\u{202e} (as the command line does).
    function shownText(text) {
      return (text || '').replace(/[\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]/g,
                                  c => '\\\\u{' + c.charCodeAt(0).toString(16) + '}');
    }

    // Closing goes Back when opening added the entry; else it drops the
    // photo from the address.
    function close() {
      if ($('viewer').hidden) return;
      if (history.state && history.state.viewer) { history.back(); return; }
      hideViewer();
      history.replaceState({entry: shownEntry}, '', addressWith(null));
    }

    function hideViewer() {
      if ($('viewer').hidden) return;
      $('viewer').hidden = true;
      shown = null;
      for (const part of ['header', 'main']) document.querySelector(part).inert = false;
      const tiles = $('grid').querySelectorAll('li[data-id]');
      // The tile of the photo shown last, in view (moved to with the arrows, it may be pages on).
      if (tiles[current]) { tiles[current].scrollIntoView({block: 'nearest'}); tiles[current].focus({preventScroll: true}); }
    }

    // Marks tile `index` as the current one; `scroll` brings it into view
    // (not behind an open photo).
    function select(index, scroll = true) {
      const items = $('grid').querySelectorAll('li[data-id]');
      if (!items.length) return;
      current = Math.max(0, Math.min(items.length - 1, index));
      for (const item of items) item.classList.remove('current');
      items[current].classList.add('current');
      items[current].focus({preventScroll: !scroll});
    }

    // "Similar photos": a new address (/?similar=ID and the filters), so
    // that Back returns to what was shown before.
    function showSimilar(id) {
      hideViewer();
      $('q').value = '';
      const params = filtersFromForm();
      params.set('similar', id);
      pushListing('/?' + params.toString());
      run(params);
    }

    // A photo dropped or picked, with the filters on screen. It is sent,
    // not stored: the address keeps the filters only, and says nothing a
    // bookmark could bring back.
    async function byExample(file) {
      if (!file) return;
      hideViewer();
      $('q').value = '';
      const filters = filtersFromForm();
      pushListing(filters.toString() ? '/?' + filters.toString() : '/');
      await list({url: '/api/search/image?' + filters.toString(), options: {method: 'POST', body: file}, param: 'offset',
                  waiting: 'Searching by ' + file.name + '…', empty: 'No photos match ' + file.name + '.'});
      if (results.length) say('Photos like ' + file.name + ' (a dropped photo is not kept: this search cannot be bookmarked).');
    }

    // Where the photos were taken, by country; a place fills the filter.
    async function showPlaces() {
      say('');
      let body;
      try { body = await api('/api/places'); } catch (error) { say(error.message, true); return; }
      render([]);
      listing = null;
      summarise();
      const section = $('places');
      section.textContent = '';
      section.hidden = false;
      if (!body.places.length) { say('No photo has a known place yet (places come from the GPS positions in photos).'); return; }
      const countries = new Map();
      for (const place of body.places) {
        if (!countries.has(place.country)) countries.set(place.country, []);
        countries.get(place.country).push(place);
      }
      const total = (list) => list.reduce((sum, place) => sum + place.photos, 0);
      for (const [country, list] of [...countries].sort((a, b) => total(b[1]) - total(a[1]))) {
        const heading = document.createElement('h2');
        heading.append(placeButton(country, country), count(total(list)));
        const items = document.createElement('ul');
        for (const place of list) {
          const item = document.createElement('li');
          item.append(placeButton(place.name + (place.region && place.region !== place.name ? ', ' + place.region : ''), place.name),
                      count(place.photos));
          items.append(item);
        }
        section.append(heading, items);
      }
    }

    function count(number) {
      const span = document.createElement('span');
      span.className = 'count';
      span.textContent = number;
      return span;
    }

    function placeButton(label, name) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = label;
      button.addEventListener('click', () => {
        $('place').value = name;
        $('filters').open = true;
        // With no words, the timeline of the photos taken there.
        $('places').hidden = true;
        $('search').requestSubmit();
      });
      return button;
    }

    // The date filters offer the years and months photos were taken in.
    async function suggestDates() {
      try {
        const body = await api('/api/months');
        const list = $('dates');
        list.textContent = '';
        const years = new Map();
        for (const {month, photos} of body.months) years.set(month.slice(0, 4), (years.get(month.slice(0, 4)) || 0) + photos);
        const option = (value, label) => { const item = document.createElement('option'); item.value = value; item.label = label; list.append(item); };
        const photos = (count) => count + (count === 1 ? ' photo' : ' photos');
        for (const [year, count] of years) {
          option(year, year + ' · ' + photos(count));
          for (const {month, photos: inMonth} of body.months.filter(entry => entry.month.startsWith(year)))
            option(month, months[Number(month.slice(5, 7)) - 1] + ' ' + year + ' · ' + photos(inMonth));
        }
      } catch (error) { /* suggestions are a convenience */ }
    }

    // The place filter suggests the names of the places photos were taken in.
    async function suggestPlaces() {
      try {
        const body = await api('/api/places');
        const list = $('place-names');
        list.textContent = '';
        const names = new Set();
        for (const place of body.places) { names.add(place.country); names.add(place.name); }
        for (const name of names) { const option = document.createElement('option'); option.value = name; list.append(option); }
      } catch (error) { /* suggestions are a convenience */ }
    }

    // The grid's columns, as its style lays them out (month headings span a row).
    function columns() {
      return getComputedStyle($('grid')).gridTemplateColumns.split(' ').filter(Boolean).length || 1;
    }

    document.addEventListener('DOMContentLoaded', async () => {
      await refreshStatus();
      setInterval(refreshStatus, 5000);
      suggestPlaces();
      suggestDates();
      if (!entryOf(history.state)) history.replaceState(Object.assign({}, history.state, {entry: newEntry()}), '');
      run(formFromURL());
      $('search').addEventListener('submit', (event) => {
        event.preventDefault();
        const params = paramsFromForm();
        pushListing(params.toString() ? '/?' + params.toString() : '/');   // (the same query again: run again)
        run(params);
      });
      for (const name of [...filterFields, 'sort']) $(name).addEventListener('change', () => $('search').requestSubmit());
      $('show-places').addEventListener('click', showPlaces);
      // (Scrolling back is the page's job: it puts a listing back first.)
      history.scrollRestoration = 'manual';
      window.addEventListener('popstate', () => run(formFromURL(), true));
      // (An entry can be older than the last page: one measured while the
      // grid was still empty arrives after the first page has filled it.)
      new IntersectionObserver(entries => {
        if (entries.some(entry => entry.isIntersecting) && nearEnd()) more();
      }, {rootMargin: '600px'}).observe($('more'));
      // And as the page scrolls: the observer speaks only when it sees the
      // end's visibility change, and a page appended and scrolled past
      // within one frame (a fling) leaves it in view at both looks.
      let scrollQueued = false;
      window.addEventListener('scroll', () => {
        if (scrollQueued) return;
        scrollQueued = true;
        requestAnimationFrame(() => { scrollQueued = false; if (moreToCome() && nearEnd()) more(); });
      }, {passive: true});
      // (Emptied after each pick: the same photo picked again searches again.)
      $('file').addEventListener('change', (event) => { const file = event.target.files[0]; event.target.value = ''; byExample(file); });
      $('close').addEventListener('click', close);
      $('previous').addEventListener('click', () => open(current - 1, 'replace'));
      $('next').addEventListener('click', () => open(current + 1, 'replace'));
      // A click beside the photo closes it; a swipe moves to the next or previous.
      $('viewer').addEventListener('click', (event) => { if (event.target === $('viewer')) close(); });
      let touchX = null;
      $('viewer').addEventListener('touchstart', (event) => { touchX = event.touches[0].clientX; }, {passive: true});
      $('viewer').addEventListener('touchend', (event) => {
        if (touchX == null) return;
        const dx = event.changedTouches[0].clientX - touchX;
        touchX = null;
        // (A swipe is not a tap: no click may follow it onto the backdrop.)
        if (Math.abs(dx) > 50) { event.preventDefault(); open(current + (dx < 0 ? 1 : -1), 'replace'); }
      });
      $('similar').addEventListener('click', () => shown && showSimilar(shown.id));
      document.addEventListener('dragover', (event) => { event.preventDefault(); document.body.classList.add('dragging'); });
      document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
      document.addEventListener('drop', (event) => {
        event.preventDefault();
        document.body.classList.remove('dragging');
        byExample(event.dataTransfer.files[0]);
      });
      document.addEventListener('keydown', (event) => {
        const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName);
        if (event.key === 'Escape') { if (!$('viewer').hidden) close(); else if (typing) document.activeElement.blur(); return; }
        if (event.key === 'Tab' && !$('viewer').hidden) {
          // Round the viewer's controls: the page behind is inert, and past
          // the last one focus would leave for the browser's own.
          const controls = [...$('viewer').querySelectorAll('button, a[href]')].filter(control => !control.disabled);
          const at = controls.indexOf(document.activeElement);
          const to = event.shiftKey ? (at <= 0 ? controls.length - 1 : at - 1) : (at + 1) % controls.length;
          event.preventDefault();
          controls[to].focus();
          return;
        }
        if (typing) return;
        // (Not while a photo is open: the box is behind it.)
        if (event.key === '/' && $('viewer').hidden) { event.preventDefault(); $('q').focus(); $('q').select(); return; }
        const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() };
        if (event.key in moves) {
          event.preventDefault();
          const next = current < 0 ? 0 : current + moves[event.key];
          if ($('viewer').hidden) select(next); else open(Math.max(0, Math.min(results.length - (moreToCome() ? 0 : 1), next)), 'replace');
        } else if (event.key === 'Enter' && $('viewer').hidden) {
          // The tile Tab reached, else the one the arrows chose.
          const focused = document.activeElement.closest && document.activeElement.closest('li[data-id]');
          const tiles = [...$('grid').querySelectorAll('li[data-id]')];
          if (!focused && document.activeElement !== document.body) return;   // a button's own Enter
          const index = focused ? tiles.indexOf(focused) : current;
          if (index >= 0) { event.preventDefault(); open(index); }
        }
      });
    });
    """
}
