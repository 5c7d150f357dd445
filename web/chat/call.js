// One side of an audio or video call of a live chat (WebRTC), for both the
// visitor's chat window (chat.js) and the operator's console
// (console/views/chat.js imports it from /chat/assets/call.js). The media go
// between the two browsers; the signalling goes through the chat: each step
// is a POST (send) and reaches the other side as a `call` event (onEvent).
// docs/PROTOCOL.md "Calls" has the steps: invite, accept|decline, offer,
// answer, candidate..., hangup. The caller gets the camera and microphone
// before inviting, the one called before accepting, so a refusal of the
// browser's permission never leaves the other side waiting.
//
// The page shows the call through the ui callbacks:
//   ui.incoming(media)         the other side invites: show accept/decline
//   ui.state(state, text)      ringing, connecting, connected, ended, failed
//   ui.streams(local, remote)  MediaStreams to put into <video>/<audio>
// and the call's route (relay or direct) as ui.state('connected', text) once
// known.

const MEDIA = { audio: { audio: true, video: false }, video: { audio: true, video: true } };

function newCallId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return `call-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

export class Call {
  /** side: 'visitor' | 'operator'; send(body) -> Promise of the server's JSON answer. */
  constructor({ side, send, ui }) {
    this.side = side;
    this.send = send;
    this.ui = ui;
    this.reset();
  }

  reset() {
    this.id = '';
    this.media = '';
    this.caller = false;
    this.pc = null;
    this.ice = null;
    this.local = null;
    this.pending = []; // candidates that came before the remote description
    this.earlyAccept = false; // the other side accepted before our invitation's answer came back
    this.earlyOffer = null; // the offer came before our acceptance's answer came back
    this.stateName = 'idle';
  }

  get busy() {
    return this.stateName !== 'idle' && this.stateName !== 'ended' && this.stateName !== 'failed';
  }

  setState(state, text) {
    this.stateName = state;
    this.ui.state(state, text);
  }

  async getMedia(media) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('This browser cannot make calls.');
    }
    try {
      return await navigator.mediaDevices.getUserMedia(MEDIA[media]);
    } catch (err) {
      throw new Error(err && err.name === 'NotAllowedError'
        ? 'The browser was not allowed to use the microphone or camera.'
        : 'No microphone or camera could be opened.');
    }
  }

  /** Calls the other side. */
  async start(media) {
    if (this.busy) return;
    this.reset();
    this.setState('starting', 'Starting the call…');
    try {
      this.local = await this.getMedia(media);
      this.id = newCallId();
      this.media = media;
      this.caller = true;
      const res = await this.send({ action: 'invite', call_id: this.id, media });
      this.ice = res;
      this.ui.streams(this.local, null);
      this.setState('ringing', 'Calling…');
      if (this.earlyAccept) await this.offer();
    } catch (err) {
      this.stop();
      this.setState('failed', err.message || String(err));
    }
  }

  /** The one called takes the call. */
  async accept() {
    if (this.stateName !== 'incoming') return;
    this.setState('connecting', 'Connecting…');
    try {
      this.local = await this.getMedia(this.media);
      this.ice = await this.send({ action: 'accept', call_id: this.id });
      this.ui.streams(this.local, null);
      this.makePeer();
      if (this.earlyOffer) await this.answer(this.earlyOffer);
    } catch (err) {
      this.send({ action: 'decline', call_id: this.id }).catch(() => {});
      this.stop();
      this.setState('failed', err.message || String(err));
    }
  }

  decline() {
    if (this.stateName !== 'incoming') return;
    this.send({ action: 'decline', call_id: this.id }).catch(() => {});
    this.stop();
    this.setState('ended', 'Call declined.');
  }

  hangup() {
    if (!this.busy) return;
    this.send({ action: 'hangup', call_id: this.id }).catch(() => {});
    this.stop();
    this.setState('ended', 'Call ended.');
  }

  /** For pagehide: a hang-up that outlives the page. */
  hangupBeacon(beacon) {
    if (this.busy && this.id) beacon({ action: 'hangup', call_id: this.id });
  }

  stop() {
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    if (this.local) for (const t of this.local.getTracks()) t.stop();
    this.ui.streams(null, null);
    const id = this.id;
    this.reset();
    this.id = id; // late events of this call are recognised and dropped
  }

  makePeer() {
    const pc = new RTCPeerConnection({
      iceServers: (this.ice && this.ice.ice_servers) || [],
      iceTransportPolicy: (this.ice && this.ice.ice_transport_policy) === 'relay' ? 'relay' : 'all',
    });
    this.pc = pc;
    for (const t of this.local.getTracks()) pc.addTrack(t, this.local);
    const remote = new MediaStream();
    pc.ontrack = (ev) => {
      remote.addTrack(ev.track);
      this.ui.streams(this.local, remote);
    };
    pc.onicecandidate = (ev) => {
      this.send({ action: 'candidate', call_id: this.id, candidate: ev.candidate ? ev.candidate.toJSON() : null })
        .catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      const s = pc.connectionState;
      if (s === 'connected') {
        this.setState('connected', 'Connected.');
        this.describeRoute(pc);
      } else if (s === 'failed') {
        this.send({ action: 'hangup', call_id: this.id }).catch(() => {});
        this.stop();
        this.setState('failed', 'The call could not connect.');
      }
    };
    return pc;
  }

  /** Says whether the media go through a relay (TURN) or directly. */
  async describeRoute(pc) {
    try {
      const stats = await pc.getStats();
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
      const local = pair && stats.get(pair.localCandidateId);
      const relayed = local && local.candidateType === 'relay';
      if (this.pc === pc) this.setState('connected', relayed ? 'Connected through a relay.' : 'Connected.');
      this.route = relayed ? 'relay' : (local && local.candidateType) || '';
    } catch {
      /* the call works without the description */
    }
  }

  /** The caller, once the call is accepted: the offer. */
  async offer() {
    this.earlyAccept = false;
    this.setState('connecting', 'Connecting…');
    await this.makePeer().setLocalDescription(await this.pc.createOffer());
    await this.send({ action: 'offer', call_id: this.id, sdp: this.pc.localDescription.sdp });
  }

  /** The one called, given the offer: the answer. */
  async answer(d) {
    this.earlyOffer = null;
    await this.pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
    await this.addCandidates();
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.send({ action: 'answer', call_id: this.id, sdp: this.pc.localDescription.sdp });
  }

  async addCandidates() {
    const list = this.pending;
    this.pending = [];
    for (const c of list) {
      try {
        await this.pc.addIceCandidate(c);
      } catch {
        /* a candidate the browser cannot use: the others may do */
      }
    }
  }

  /** A `call` event of the chat's stream. replay: it happened before this page loaded. */
  async onEvent(d, replay = false) {
    if (!d || d.from === this.side) return;
    if (d.action === 'disabled' || d.action === 'enabled') {
      if (this.ui.availability) this.ui.availability(d.action === 'enabled');
      if (d.action === 'disabled' && this.busy) this.stopWith('Calls were switched off.');
      return;
    }
    if (replay) return;
    if (d.action === 'invite') {
      if (this.busy) {
        this.send({ action: 'decline', call_id: d.call_id }).catch(() => {});
        return;
      }
      this.reset();
      this.id = d.call_id;
      this.media = d.media === 'video' ? 'video' : 'audio';
      this.caller = false;
      this.setState('incoming', d.media === 'video' ? 'Video call' : 'Audio call');
      this.ui.incoming(this.media);
      return;
    }
    if (d.call_id !== this.id) return;
    try {
      switch (d.action) {
        case 'accept':
          if (!this.caller) return;
          if (this.stateName === 'starting') this.earlyAccept = true; // start() offers once invited
          else if (this.stateName === 'ringing') await this.offer();
          break;
        case 'offer':
          if (this.caller) return;
          if (!this.pc) this.earlyOffer = d; // accept() answers once its peer is made
          else await this.answer(d);
          break;
        case 'answer':
          if (!this.caller || !this.pc) return;
          await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
          await this.addCandidates();
          break;
        case 'candidate':
          if (!d.candidate) return;
          this.pending.push(d.candidate);
          if (this.pc && this.pc.remoteDescription) await this.addCandidates();
          break;
        case 'decline':
          this.stopWith('The call was declined.');
          break;
        case 'hangup':
          this.stopWith({ chat_ended: 'The chat has ended.', transferred: 'The chat was passed on.',
            requeued: 'The chat went back to the queue.', disabled: 'Calls were switched off.' }[d.reason]
            || 'The other side hung up.');
          break;
        default:
          break;
      }
    } catch (err) {
      this.send({ action: 'hangup', call_id: this.id }).catch(() => {});
      this.stopWith(`The call failed: ${err.message || err}`, 'failed');
    }
  }

  stopWith(text, state = 'ended') {
    if (!this.busy && this.stateName !== 'incoming') return;
    this.stop();
    this.setState(state, text);
  }
}
