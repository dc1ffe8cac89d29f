// Formal properties of xbar_ctrl (included in its body under `ifdef FORMAL`; Yosys reads the
// controller with `read_verilog -sv -formal`, tools: tools/formal.py, `make formal`).
//
// Every assertion and cover has a label; a failing run names it.  docs/controller.md
// ("Formal properties") lists what each protects and what is proven (k-induction).
//
// Environment (assumptions):
//   - reset: rst_n low in the first cycle, high afterwards;
//   - host bus: unconstrained (any address, data and write strobe in any cycle);
//   - ADC handshake: adc_valid only while adc_sample is high (the S/H has a sample), never two
//     cycles in a row; sense_code / neuron_codes unconstrained;
//   - FORMAL_LIVE only (bounded liveness): every ADC answers within F_ADC_MAX cycles, and the
//     registers that set the length of a run are small (see below).

  // ------------------------------------------------------------------ environment
  reg f_past_valid = 1'b0;
  always @(posedge clk) f_past_valid <= 1'b1;

  always @(*) begin
    if (!f_past_valid) assume (!rst_n);
    else assume (rst_n);
    if (adc_valid) assume (adc_sample);
  end
  always @(posedge clk) if (f_past_valid && $past(adc_valid)) assume (!adc_valid);

  // ------------------------------------------------------------------ observers
  // a symbolic device: every per-device property is proven for any index f_dev
  (* anyconst *) reg [DEV_W-1:0] f_dev;
  always @(*) assume (f_dev <= LAST_DEV);

  // the documented clamps of the width registers (restated here on purpose: the RTL's own
  // w_eff / write_eff are what is being checked)
  wire [15:0] f_reset_eff = (reset_cyc_r == 16'd0) ? 16'd1 : reset_cyc_r;
  wire [15:0] f_read_eff = (read_cyc_r < 16'd2) ? 16'd2 : read_cyc_r;
  wire [15:0] f_write_eff = (write_cyc_r == 16'd0) ? 16'd1 : write_cyc_r;
  wire [15:0] f_erase_eff = (erase_cyc_r == 16'd0) ? 16'd1 : erase_cyc_r;
  wire [15:0] f_min_eff = (min_cyc_r == 16'd0) ? 16'd1 : min_cyc_r;

  function [15:0] f_popcount(input [N_DEV-1:0] v);
    integer i;
    begin
      f_popcount = 16'd0;
      for (i = 0; i < N_DEV; i = i + 1) f_popcount = f_popcount + {15'd0, v[i]};
    end
  endfunction

  // kind of the pulse on the DAC, from the phase output
  reg [PULSE_BITS-1:0] f_code_of_phase;
  always @(*) begin
    case (phase)
      PHASE_RESET: f_code_of_phase = reset_code_r;
      PHASE_WRITE: f_code_of_phase = write_code_r;
      PHASE_ERASE: f_code_of_phase = erase_code_r;
      default: f_code_of_phase = read_code_r;
    endcase
  end

  // f_sel_age: cycles (up to the last one) the select has had its present nonzero value;
  // f_off_age: cycles pulse_on has been low; f_plen: cycles pulse_on has been high
  reg [15:0] f_sel_age = 16'd0;
  reg [15:0] f_off_age = 16'd0;
  reg [15:0] f_plen = 16'd0;
  always @(posedge clk) begin
    if (sel == {N_DEV{1'b0}}) f_sel_age <= 16'd0;
    else if (f_past_valid && sel == $past(sel)) f_sel_age <= (f_sel_age == 16'hFFFF) ? f_sel_age : f_sel_age + 16'd1;
    else f_sel_age <= 16'd1;
    f_off_age <= pulse_on ? 16'd0 : ((f_off_age == 16'hFFFF) ? f_off_age : f_off_age + 16'd1);
    f_plen <= pulse_on ? f_plen + 16'd1 : 16'd0;
  end

  // write+erase pulses that device f_dev received in the current programming run (cleared
  // while idle: a count of the last run must not be compared with a MAX_PULSES rewritten since)
  reg [16:0] f_dev_pulses = 17'd0;
  always @(posedge clk) begin
    if (!rst_n || idle) f_dev_pulses <= 17'd0;
    else if (pulse_on && !$past(pulse_on) && sel[f_dev]
             && (phase == PHASE_WRITE || phase == PHASE_ERASE))
      f_dev_pulses <= f_dev_pulses + 17'd1;
  end

  // shadow of the target of device f_dev as written through the window
  reg [SENSE_BITS-1:0] f_tgt = {SENSE_BITS{1'b0}};
  reg f_tgt_valid = 1'b0;
  always @(posedge clk) begin
    if (!rst_n) f_tgt_valid <= 1'b0;
    else if (host_we && idle && host_addr == REG_DEV_TARGET && dev_idx_r == {{(16 - DEV_W) {1'b0}}, f_dev}) begin
      f_tgt <= host_wdata[SENSE_BITS-1:0];
      f_tgt_valid <= 1'b1;
    end
  end

  // readback mask of the plain RW registers (0: not a plain RW register)
  function [15:0] f_rw_mask(input [7:0] a);
    begin
      case (a)
        REG_CTRL: f_rw_mask = 16'd1 << CTRL_MODE;
        REG_TOL, REG_MAX_PULSES, REG_WRITE_CYC, REG_ERASE_CYC, REG_RESET_CYC, REG_READ_CYC,
        REG_READ_SAMPLE, REG_GAP_CYC, REG_INF_SETTLE, REG_MIN_CYC, REG_STEP_WAIT,
        REG_STEP_WAIT_HI, REG_DEV_IDX, REG_IN_IDX, REG_NRN_IDX: f_rw_mask = 16'hFFFF;
        REG_TOL_SHIFT: f_rw_mask = 16'h000F;
        REG_RESET_EN: f_rw_mask = 16'h0001;
        REG_ADAPT: f_rw_mask = 16'd1 << ADAPT_EN;
        REG_WRITE_CODE, REG_ERASE_CODE, REG_RESET_CODE, REG_READ_CODE:
          f_rw_mask = {{(16 - PULSE_BITS) {1'b0}}, {PULSE_BITS{1'b1}}};
        REG_CLASS_THR: f_rw_mask = {{(16 - NEURON_BITS) {1'b0}}, {NEURON_BITS{1'b1}}};
        default: f_rw_mask = 16'd0;
      endcase
    end
  endfunction
  wire f_is_idx = (host_addr == REG_DEV_IDX) || (host_addr == REG_IN_IDX) || (host_addr == REG_NRN_IDX);

  // ------------------------------------------------------------------ safety: select lines
  always @(*) if (rst_n) begin
    p_sel_onehot0: assert ((sel & (sel - {{(N_DEV - 1) {1'b0}}, 1'b1})) == {N_DEV{1'b0}});
    p_sel_none_infer: assert (!(infer_en && sel != {N_DEV{1'b0}}));
    p_sel_is_cur: assert (sel == {N_DEV{1'b0}} || sel == onehot_cur);
  end

  // ------------------------------------------------------------------ safety: pulses
  always @(*) if (rst_n) begin
    p_pulse_one_sel: assert (!pulse_on || (sel != {N_DEV{1'b0}} && (sel & (sel - {{(N_DEV - 1) {1'b0}}, 1'b1})) == {N_DEV{1'b0}}));
    p_pulse_code_reg: assert (pulse_on ? (pulse_code == f_code_of_phase) : (pulse_code == {PULSE_BITS{1'b0}}));
    p_pulse_phase: assert (!pulse_on || (phase >= PHASE_RESET && phase <= PHASE_READ));
    p_pulse_no_adc: assert (!(pulse_on && adc_sample && phase != PHASE_READ));
    p_pulse_not_infer: assert (!(pulse_on && infer_en));
    p_inputs_off: assert (infer_en || in_codes == {(N_IN * IN_BITS) {1'b0}});
    p_busy_state: assert (busy == !idle);
    p_done_not_busy: assert (!(done && busy));
    p_phase_valid: assert (phase <= PHASE_INFER);
  end

  always @(posedge clk) if (f_past_valid && $past(rst_n) && rst_n) begin
    // a pulse starts only after the select setup time, never while the S/H holds a sample
    if (pulse_on && !$past(pulse_on)) begin
      p_pulse_setup: assert (sel == $past(sel) && f_sel_age >= SEL_SETUP_CYC);
      p_pulse_start_no_adc: assert (!$past(adc_sample));
    end
    // the select never changes while the pulse is on, and is held after it
    if ($past(pulse_on)) p_sel_stable_pulse: assert (sel == $past(sel));
    if ($past(sel) != {N_DEV{1'b0}} && sel != $past(sel)) p_sel_hold: assert (f_off_age >= SEL_HOLD_CYC);
    // pulse width at its end, per kind, within the configured (adaptive) bounds
    if ($past(pulse_on) && !pulse_on) begin
      case ($past(phase))
        PHASE_RESET: p_width_reset: assert (f_plen == f_reset_eff);
        PHASE_READ: p_width_read: assert (f_plen == f_read_eff);
        PHASE_WRITE: begin
          p_width_write: assert (f_plen <= f_write_eff
                                 && f_plen >= ((f_write_eff < f_min_eff) ? f_write_eff : f_min_eff)
                                 && (adapt_en_r || f_plen == f_write_eff));
        end
        PHASE_ERASE: begin
          p_width_erase: assert (f_plen <= f_erase_eff
                                 && f_plen >= ((f_erase_eff < f_min_eff) ? f_erase_eff : f_min_eff)
                                 && (adapt_en_r || f_plen == f_erase_eff));
        end
        default: p_width_kind: assert (1'b0);
      endcase
    end
    // the sample command rises only inside a read pulse or in inference
    if (adc_sample && !$past(adc_sample))
      p_adc_when: assert ((pulse_on && phase == PHASE_READ) || (infer_en && phase == PHASE_INFER));
  end

  // ------------------------------------------------------------------ safety: per device
  always @(*) if (rst_n) begin
    // (MAX_PULSES and the mask may be rewritten between runs: checked during a run)
    if (busy) p_max_pulses: assert (f_dev_pulses <= {1'b0, max_pulses_r});
    p_ok_xor_fail: assert ((ok_r & fail_r) == {N_DEV{1'b0}});
    p_flags_visited: assert (((ok_r | fail_r) & ~visited_r) == {N_DEV{1'b0}});
    if (busy && !run_mode_r) p_visit_masked: assert ((visited_r & ~mask_r) == {N_DEV{1'b0}});
  end
  always @(posedge clk) if (f_past_valid && $past(rst_n) && rst_n) begin
    // done after a programming run: every masked device is ok or failed
    if (done && !$past(done) && !run_mode_r)
      p_done_all_flagged: assert ((mask_r & ~(ok_r | fail_r)) == {N_DEV{1'b0}});
    if (done && !$past(done) && !run_mode_r)
      p_nfail_count: assert (nfail_r == f_popcount(fail_r));
  end

  // ------------------------------------------------------------------ safety: registers
  always @(posedge clk) if (f_past_valid && $past(rst_n) && rst_n) begin
    // readback equals what was written (plain RW registers, written while idle or index)
    if ($past(host_we) && ($past(idle) || $past(f_is_idx)) && host_addr == $past(host_addr)
        && f_rw_mask(host_addr) != 16'd0)
      p_readback: assert (host_rdata == ($past(host_wdata) & f_rw_mask(host_addr)));
    // a target write streams: the device index advances by one
    if ($past(host_we && idle && host_addr == REG_DEV_TARGET))
      p_target_autoinc: assert (dev_idx_r == $past(dev_idx_r) + 16'd1);
    // nothing the sequencer uses changes while busy
    if (!$past(idle)) begin
      p_busy_regs_stable: assert ($stable({mode_r, tol_r, tol_shift_r, max_pulses_r, reset_en_r,
          write_code_r, erase_code_r, reset_code_r, read_code_r, write_cyc_r, erase_cyc_r,
          reset_cyc_r, read_cyc_r, read_sample_r, gap_cyc_r, inf_settle_r, adapt_en_r,
          min_cyc_r, step_wait_r, class_thr_r, mask_r, tvalid_r, input_r}));
      p_busy_target_stable: assert (f_tgt == $past(f_tgt) && f_tgt_valid == $past(f_tgt_valid));
    end
  end
  // the window reads back the target written for f_dev (0 if never written); the verify
  // decision uses that same target
  always @(*) if (rst_n) begin
    if (host_addr == REG_DEV_TARGET && dev_idx_r == {{(16 - DEV_W) {1'b0}}, f_dev})
      p_target_window: assert (host_rdata == (f_tgt_valid ? {{(16 - SENSE_BITS) {1'b0}}, f_tgt} : 16'd0));
    if (cur_dev == f_dev) p_target_used: assert (tgt_cur == (f_tgt_valid ? f_tgt : {SENSE_BITS{1'b0}}));
  end

  // ------------------------------------------------------------------ inductive invariants
  // Auxiliary assertions a_* (proven like the p_* ones): facts about every reachable state
  // that make the p_* properties k-inductive (tools/formal.py prove).  Each one relates the
  // FSM state to the counters, select, pulse, ADC and flag registers.
  wire f_st_dev = (state == S_SETUP) || (state == S_PULSE) || (state == S_HOLD) || (state == S_GAP)
                  || (state == S_WAIT_ADC) || (state == S_STEP_WAIT) || (state == S_EVAL);
  wire f_st_prog = f_st_dev || (state == S_SCAN) || (state == S_DEV);
  wire f_st_inf = (state == S_INF_ON) || (state == S_INF_SETTLE) || (state == S_INF_WAIT);
  wire f_st_sel = (state == S_SETUP) || (state == S_PULSE) || (state == S_HOLD);
  wire f_prun = busy && !run_mode_r;                       // a programming run
  wire f_kind_we = (kind == PHASE_WRITE) || (kind == PHASE_ERASE);
  wire [N_DEV-1:0] f_below = onehot_cur - {{(N_DEV - 1) {1'b0}}, 1'b1};  // devices < cur_dev
  wire [N_DEV-1:0] f_flagged = ok_r | fail_r;
  // a write/erase pulse of cur_dev counted in npulse but not yet seen on the select/pulse lines
  wire f_pending = f_kind_we && ((state == S_SETUP) || (state == S_PULSE && cnt == 16'd0));
  wire [15:0] f_wmin = (f_write_eff < f_min_eff) ? f_write_eff : f_min_eff;
  wire [15:0] f_emin = (f_erase_eff < f_min_eff) ? f_erase_eff : f_min_eff;
  always @(*) if (rst_n) begin
    // FSM encoding, mode and phase per state
    a_state: assert (state <= S_STEP_WAIT && cur_dev <= LAST_DEV
                     && kind >= PHASE_RESET && kind <= PHASE_READ);
    a_mode: assert ((!f_st_prog || !run_mode_r) && (!f_st_inf || run_mode_r));
    a_done_idle: assert (!done || idle);
    case (state)
      S_IDLE, S_DEV, S_INF_ON: a_phase_off: assert (phase == PHASE_IDLE);
      S_SCAN: a_phase_scan: assert (phase == PHASE_IDLE || phase == PHASE_READ);
      S_SETUP, S_PULSE, S_HOLD, S_GAP: a_phase_kind: assert (phase == kind);
      S_WAIT_ADC, S_EVAL: a_phase_read: assert (phase == PHASE_READ && kind == PHASE_READ);
      S_STEP_WAIT: a_phase_wait: assert (phase == PHASE_IDLE && kind == PHASE_READ);
      S_INF_SETTLE, S_INF_WAIT: a_phase_inf: assert (phase == PHASE_INFER);
      default: a_phase_fin: assert (phase == PHASE_IDLE || phase == PHASE_READ || phase == PHASE_INFER);
    endcase
    // outputs per state
    a_pulse: assert (pulse_on == (state == S_PULSE)
                     && pulse_code == (pulse_on ? code_of_kind : {PULSE_BITS{1'b0}}));
    a_sel: assert (sel == (f_st_sel ? onehot_cur : {N_DEV{1'b0}}));
    a_infer: assert (infer_en == ((state == S_INF_SETTLE) || (state == S_INF_WAIT)));
    // every counter below the limit at which its state ends
    a_cnt: assert ((state != S_SETUP || cnt < SEL_SETUP_CYC) && (state != S_PULSE || cnt < w_eff)
                   && (state != S_HOLD || cnt < SEL_HOLD_CYC) && (state != S_GAP || cnt < gap_eff)
                   && (state != S_INF_SETTLE || cnt < settle_eff)
                   && (state != S_STEP_WAIT || wcnt < step_wait_r));
    // the observers' ages and lengths in step with the counters
    a_obs: assert ((state != S_SETUP || f_sel_age == cnt) && (state != S_PULSE || f_plen == cnt)
                   && (state != S_HOLD || (f_off_age == cnt && f_plen == (cnt == 16'd0 ? w_eff : 16'd0))));
    // ADC handshake: sample held or conversion got, per state
    case (state)
      S_PULSE:
        a_adc_pulse: assert (!is_read ? !adc_sample
                             : (cnt < s_eff ? (!adc_sample && !adc_got) : (adc_sample != adc_got)));
      S_HOLD, S_GAP: a_adc_after: assert (is_read ? (adc_sample != adc_got) : !adc_sample);
      S_WAIT_ADC, S_INF_WAIT: a_adc_wait: assert (adc_sample != adc_got);
      S_STEP_WAIT, S_EVAL: a_adc_got: assert (!adc_sample && adc_got);
      default: a_adc_off: assert (!adc_sample);
    endcase
    // the device in progress: masked, visited, widths within bounds, pulses within the limit
    if (f_st_dev) begin
      a_dev_cur: assert (mask_r[cur_dev] && visited_r[cur_dev] && npulse <= max_pulses_r);
      a_dev_wcur: assert (wcur <= f_write_eff && wcur >= f_wmin && (adapt_en_r || wcur == f_write_eff));
      a_dev_ecur: assert (ecur <= f_erase_eff && ecur >= f_emin && (adapt_en_r || ecur == f_erase_eff));
    end
    if (state == S_DEV) a_dev_masked: assert (mask_r[cur_dev]);
    // a reset pulse comes first (RESET_EN), a write/erase pulse after its npulse step
    if (f_st_dev && kind == PHASE_RESET) a_dev_reset: assert (reset_en_r && npulse == 16'd0);
    if (f_st_dev && f_kind_we) a_dev_npulse: assert (npulse != 16'd0);
    // a programming run goes through the devices in index order: flags only below cur_dev
    // (or at it once finished), every masked device below cur_dev flagged
    if (f_prun && state != S_FINISH) begin
      a_run_flags: assert ((f_flagged & ~f_below) == {N_DEV{1'b0}}
                           && (mask_r & f_below & ~f_flagged) == {N_DEV{1'b0}});
      a_run_visited: assert ((visited_r & ~(f_below | (f_st_dev ? onehot_cur : {N_DEV{1'b0}})))
                             == {N_DEV{1'b0}});
    end
    if (f_prun && state == S_FINISH) a_run_finished: assert ((mask_r & ~f_flagged) == {N_DEV{1'b0}});
    a_nfail: assert (nfail_r == f_popcount(fail_r));
    // pulses of the symbolic device f_dev in this run
    if (busy && run_mode_r) a_pulses_inf: assert (f_dev_pulses == 17'd0);
    if (f_prun) begin
      if (f_dev > cur_dev || (f_dev == cur_dev && !f_st_dev && state != S_FINISH))
        a_pulses_ahead: assert (f_dev_pulses == 17'd0);
      else if (f_dev == cur_dev && f_st_dev)
        a_pulses_cur: assert (f_dev_pulses + {16'd0, f_pending} == {1'b0, npulse});
      else a_pulses_behind: assert (f_dev_pulses <= {1'b0, max_pulses_r});
    end
    // the target of f_dev: valid bit and memory word equal the shadow
    a_target: assert (tvalid_r[f_dev] == f_tgt_valid && (!f_tgt_valid || target_mem[f_dev] == f_tgt));
  end

`ifdef FORMAL_LIVE
  // ------------------------------------------------------------------ bounded liveness
  // A responsive ADC (adc_valid at the latest in the third cycle adc_sample is high) and
  // short runs: reset/write/erase widths <= 1 cycle, read <= 2 (clamped to 2), sample point,
  // gap, settle <= 1, no step wait, MAX_PULSES <= F_MAXP.  Then every run ends within
  // F_RUN_MAX cycles of START: busy for at most F_RUN_MAX + 1 cycles, done the cycle after.
  localparam integer F_ADC_MAX = 2;
  localparam integer F_MAXP = 1;
  reg [3:0] f_adc_wait = 4'd0;
  always @(posedge clk) f_adc_wait <= (adc_sample && !adc_valid) ? f_adc_wait + 4'd1 : 4'd0;
  always @(*) begin
    if (f_adc_wait >= F_ADC_MAX) assume (adc_valid || !adc_sample);
    assume (write_cyc_r <= 16'd1 && erase_cyc_r <= 16'd1 && reset_cyc_r <= 16'd1);
    assume (read_cyc_r <= 16'd2 && read_sample_r <= 16'd1 && gap_cyc_r <= 16'd1);
    assume (inf_settle_r <= 16'd1 && step_wait_r == 32'd0 && max_pulses_r <= F_MAXP);
  end
  // Device timeline (f_loc: cycles since S_DEV): reset pulse from 1 (setup 2, width 1, hold 2,
  // gap 1 = 6 cycles), read from 1 + 6*RESET_EN + 15*npulse (setup 2, width 2, hold 2, gap 1,
  // ADC wait 1, EVAL 1 = 9), each write/erase + read 15.  A device slot is SCAN + S_DEV ..
  // the last EVAL: F_SLOT cycles; an inference run ends by cycle 6.
  localparam integer F_DEV_MAX = 1 + 6 + 15 * F_MAXP + 8;   // f_loc of the last EVAL
  localparam integer F_SLOT = F_DEV_MAX + 2;
  localparam integer F_RUN_MAX = (F_SLOT * N_DEV > 6) ? F_SLOT * N_DEV : 6;
  localparam [15:0] F_SLOT_16 = F_SLOT[15:0];
  localparam [15:0] F_RUN_16 = F_RUN_MAX[15:0];
  reg [15:0] f_busy_len = 16'd0;   // cycles since START (0 in the first busy cycle)
  reg [15:0] f_loc = 16'd0;        // cycles since S_DEV of cur_dev
  always @(posedge clk) begin
    f_busy_len <= busy ? f_busy_len + 16'd1 : 16'd0;
    f_loc <= (state == S_SCAN) ? 16'd0 : f_loc + 16'd1;
  end
  always @(*) if (rst_n && busy) p_live_done: assert (f_busy_len <= F_RUN_16);

  // ranking invariants: the elapsed time bounded by the progress made
  wire [15:0] f_wl = is_read ? 16'd2 : 16'd1;
  wire [15:0] f_read0 = 16'd1 + (reset_en_r ? 16'd6 : 16'd0) + npulse * 16'd15;
  reg [15:0] f_base, f_off;
  always @(*) begin
    case (kind)
      PHASE_RESET: f_base = 16'd1;
      PHASE_READ: f_base = f_read0;
      default: f_base = f_read0 - 16'd6;  // write/erase: npulse already counts it
    endcase
    case (state)
      S_SETUP: f_off = cnt;
      S_PULSE: f_off = 16'd2 + cnt;
      S_HOLD: f_off = 16'd2 + f_wl + cnt;
      S_GAP: f_off = 16'd4 + f_wl;
      S_WAIT_ADC: f_off = 16'd7;
      default: f_off = 16'd8;
    endcase
  end
  wire [15:0] f_slots = F_SLOT_16 * {{(16 - DEV_W) {1'b0}}, cur_dev};
  always @(*) if (rst_n) begin
    if (state == S_DEV) a_live_dev: assert (f_loc == 16'd0 && f_busy_len <= f_slots + 16'd1);
    if (f_st_dev) a_live_loc: assert (f_loc == f_base + f_off && f_busy_len <= f_slots + 16'd1 + f_loc);
    if (state == S_SCAN) a_live_scan: assert (f_busy_len <= f_slots);
    if (state == S_FINISH) a_live_fin: assert (f_busy_len <= F_RUN_16);
    if (state == S_INF_ON) a_live_inf_on: assert (f_busy_len == 16'd0);
    if (state == S_INF_SETTLE) a_live_settle: assert (f_busy_len == 16'd1);
    if (state == S_INF_WAIT) a_live_inf: assert (adc_sample ? (f_busy_len == 16'd2 + {12'd0, f_adc_wait}) : (f_busy_len <= 16'd5));
    a_live_adc: assert (adc_sample ? (f_adc_wait <= F_ADC_MAX) : (f_adc_wait == 4'd0));
    // the ADC answers a read before its gap ends
    if (state == S_PULSE && is_read && adc_sample) a_live_adc_p: assert (f_adc_wait == 4'd0);
    if (state == S_HOLD && is_read && adc_sample) a_live_adc_h: assert ({12'd0, f_adc_wait} == cnt + 16'd1);
    if ((state == S_GAP || state == S_WAIT_ADC) && is_read) a_live_adc_g: assert (adc_got);
  end
`endif

  // ------------------------------------------------------------------ covers
  // Each cover is a named wire c_* and a cover() statement (for other tools); tools/formal.py
  // compiles with FORMAL_COVER, where every cover is an assertion of its negation.
  reg [3:0] f_prev_state = 4'd0;
  reg [15:0] f_prev_wcur = 16'd0;
  reg f_prev_done = 1'b0;
  always @(posedge clk) begin
    f_prev_state <= state;
    f_prev_wcur <= wcur;
    f_prev_done <= done;
  end
  wire f_cov_on = f_past_valid && rst_n;
  (* keep *) wire c_phase_reset = f_cov_on && pulse_on && phase == PHASE_RESET;
  (* keep *) wire c_phase_write = f_cov_on && pulse_on && phase == PHASE_WRITE;
  (* keep *) wire c_phase_erase = f_cov_on && pulse_on && phase == PHASE_ERASE;
  (* keep *) wire c_phase_read = f_cov_on && pulse_on && phase == PHASE_READ;
  (* keep *) wire c_phase_infer = f_cov_on && adc_sample && phase == PHASE_INFER;
  (* keep *) wire c_step_wait = f_cov_on && state == S_STEP_WAIT;
  (* keep *) wire c_reset_skipped = f_cov_on && state == S_SETUP && phase == PHASE_READ && !reset_en_r
                                    && npulse == 16'd0 && !dir_valid;
  (* keep *) wire c_dev_ok = f_cov_on && state == S_EVAL && in_window;
  (* keep *) wire c_fail_at_limit = f_cov_on && state == S_EVAL && !in_window && at_limit
                                    && max_pulses_r != 16'd0;
  (* keep *) wire c_reversal = f_cov_on && state == S_EVAL && !in_window && !at_limit && dir_valid
                               && (dir_erase == too_low);
  (* keep *) wire c_width_halved = f_cov_on && f_prev_state == S_EVAL && wcur < f_prev_wcur;
  (* keep *) wire c_done_program = f_cov_on && done && !f_prev_done && !run_mode_r;
  (* keep *) wire c_done_infer = f_cov_on && done && !f_prev_done && run_mode_r;
  (* keep *) wire c_second_device = f_cov_on && pulse_on && cur_dev != {DEV_W{1'b0}};
`ifdef FORMAL_COVER
  // tools/formal.py cover: a cover is reached when its negation fails (named cover_*)
  always @(*) begin
    cover_phase_reset: assert (!c_phase_reset);
    cover_phase_write: assert (!c_phase_write);
    cover_phase_erase: assert (!c_phase_erase);
    cover_phase_read: assert (!c_phase_read);
    cover_phase_infer: assert (!c_phase_infer);
    cover_step_wait: assert (!c_step_wait);
    cover_reset_skipped: assert (!c_reset_skipped);
    cover_dev_ok: assert (!c_dev_ok);
    cover_fail_at_limit: assert (!c_fail_at_limit);
    cover_reversal: assert (!c_reversal);
    cover_width_halved: assert (!c_width_halved);
    cover_done_program: assert (!c_done_program);
    cover_done_infer: assert (!c_done_infer);
    cover_second_device: assert (!c_second_device);
  end
`else
  always @(*) begin
    cover (c_phase_reset);
    cover (c_phase_write);
    cover (c_phase_erase);
    cover (c_phase_read);
    cover (c_phase_infer);
    cover (c_step_wait);
    cover (c_reset_skipped);
    cover (c_dev_ok);
    cover (c_fail_at_limit);
    cover (c_reversal);
    cover (c_width_halved);
    cover (c_done_program);
    cover (c_done_infer);
    cover (c_second_device);
  end
`endif
