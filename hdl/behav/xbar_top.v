// xbar_top: simulation harness of the crossbar controller (not synthesizable).
//
// Instantiates the synthesizable controller (hdl/xbar_ctrl.v) for an N_IN -> N_HID -> N_OUT
// crossbar with behavioural DACs and ADCs and generates its own clock.  The names below are
// a FIXED contract with the analog bridge and the cocotb benches; see docs/controller.md.
//
//   digital -> analog: v_prog (output real port; the shared programming/read source)
//                      g_in[i].v, i = 0 .. N_IN-1 (real in generate scope g_in[i]; the
//                      output of input DAC i; cocotb: dut.g_in[i].v)
//   analog -> digital: v_sense (input real port; sense amplifier output)
//                      g_nrn[n].v, n = 0 .. N_HID+N_OUT-1 (real in generate scope g_nrn[n];
//                      neuron n, hidden first, then outputs; cocotb: dut.g_nrn[n].v.value = x)
//     written by the bridge at each rising edge of adc_sample and held until the next one.
//
// Every size and DAC/ADC parameter is a parameter of this module, so benches read it from
// the DUT handle (dut.N_IN.value, dut.PULSE_DAC_BITS.value, ...) instead of restating it.
`timescale 1ns / 1ps
`default_nettype none

module xbar_top #(
    parameter integer N_IN = 9,              // inputs
    parameter integer N_HID = 3,             // hidden neurons
    parameter integer N_OUT = 1,             // output neurons
    parameter real CLK_PERIOD_NS = 1000.0,   // 1 MHz
    parameter integer PULSE_DAC_BITS = 12,   // two's complement
    parameter real PULSE_DAC_FS_V = 2.5,     // code -2**(B-1) -> -FS, 2**(B-1)-1 -> FS - 1 LSB
    parameter integer IN_DAC_BITS = 12,      // unsigned
    parameter real IN_DAC_FS_V = 0.25,
    parameter integer SENSE_ADC_BITS = 12,
    parameter real SENSE_ADC_FS_V = 0.25,
    parameter integer SENSE_ADC_BIPOLAR = 0,
    parameter integer NEURON_ADC_BITS = 12,
    parameter real NEURON_ADC_FS_V = 1.0,
    parameter integer NEURON_ADC_BIPOLAR = 0,
    parameter real ADC_CONV_NS = 2000.0      // >= 1 clock period
) (
    input wire rst_n,
    input wire host_we,
    input wire [7:0] host_addr,
    input wire [15:0] host_wdata,
    output wire [15:0] host_rdata,
    output wire busy,
    output wire done,
    output wire start,
    output wire [2:0] phase,
    output wire [N_IN*N_HID+N_HID*N_OUT-1:0] sel,            // device k at bit k
    output wire infer_en,
    output wire [idx_width(N_IN*N_HID+N_HID*N_OUT)-1:0] cur_dev,
    output wire adc_sample,
    output real v_prog,
    input real v_sense
);
  // width of an index 0 .. n-1, at least 1 bit (same rule as xbar_ctrl)
  function integer idx_width(input integer n);
    integer r;
    begin
      r = 1;
      while ((1 << r) < n) r = r + 1;
      idx_width = r;
    end
  endfunction

  localparam integer N_DEV = N_IN * N_HID + N_HID * N_OUT;   // devices
  localparam integer N_NEURON = N_HID + N_OUT;               // neurons (ADCs)

  reg clk = 1'b0;
  /* verilator lint_off BLKSEQ */  // a free-running testbench clock, not sequential logic
  always #(CLK_PERIOD_NS / 2.0) clk = ~clk;
  /* verilator lint_on BLKSEQ */

  // xbar_dump triggers this once its VCD is open: each generate scope below then adds its
  // real `v` to the dump (xbar_dump cannot name g_in[i] for a parameter i itself).
  /* verilator lint_off UNDRIVEN */  // triggered by xbar_dump, a separate root
  event dump_ports;
  /* verilator lint_on UNDRIVEN */

  wire pulse_on;
  wire [PULSE_DAC_BITS-1:0] pulse_code;
  wire [N_IN*IN_DAC_BITS-1:0] in_codes;
  wire adc_valid;
  wire [SENSE_ADC_BITS-1:0] sense_code;
  wire [N_NEURON*NEURON_ADC_BITS-1:0] neuron_codes;

  xbar_ctrl #(
      .N_IN(N_IN),
      .N_HID(N_HID),
      .N_OUT(N_OUT),
      .PULSE_BITS(PULSE_DAC_BITS),
      .IN_BITS(IN_DAC_BITS),
      .SENSE_BITS(SENSE_ADC_BITS),
      .NEURON_BITS(NEURON_ADC_BITS)
  ) u_ctrl (
      .clk(clk),
      .rst_n(rst_n),
      .host_we(host_we),
      .host_addr(host_addr),
      .host_wdata(host_wdata),
      .host_rdata(host_rdata),
      .start(start),
      .busy(busy),
      .done(done),
      .phase(phase),
      .sel(sel),
      .cur_dev(cur_dev),
      .infer_en(infer_en),
      .pulse_on(pulse_on),
      .pulse_code(pulse_code),
      .in_codes(in_codes),
      .adc_sample(adc_sample),
      .adc_valid(adc_valid),
      .sense_code(sense_code),
      .neuron_codes(neuron_codes)
  );

  // ---- pulse DAC and sense ADC
  dac_behav #(.BITS(PULSE_DAC_BITS), .FS_V(PULSE_DAC_FS_V), .SIGNED(1)) u_dac_prog (
      .en(pulse_on), .code(pulse_code), .vout(v_prog));
  adc_behav #(.BITS(SENSE_ADC_BITS), .FS_V(SENSE_ADC_FS_V), .BIPOLAR(SENSE_ADC_BIPOLAR),
      .CONV_NS(ADC_CONV_NS)) u_adc_sense (
      .clk(clk), .sample(adc_sample), .vin(v_sense), .code(sense_code), .valid(adc_valid));

  // ---- input DACs: g_in[i].v = output voltage of input i
  genvar gi;
  generate
    for (gi = 0; gi < N_IN; gi = gi + 1) begin : g_in
      /* verilator lint_off UNUSEDSIGNAL */  // read by the analog bridge through VPI
      real v;
      /* verilator lint_on UNUSEDSIGNAL */
      dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac (
          .en(infer_en), .code(in_codes[gi*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v));
      always @(dump_ports) $dumpvars(0, v);
    end
  endgenerate

  // ---- neuron ADCs: g_nrn[n].v = neuron n's voltage, written by the analog bridge; one
  // sample-and-hold command and conversion time for all channels: each channel latches its
  // code when the sense ADC's conversion ends (adc_valid; hdl/behav/adc_chan.v)
  generate
    for (gi = 0; gi < N_NEURON; gi = gi + 1) begin : g_nrn
      real v;
      /* verilator lint_off UNUSEDSIGNAL */
      wire valid = adc_valid;  // the channel's conversion ends with the sense ADC's
      /* verilator lint_on UNUSEDSIGNAL */
      initial v = 0.0;
      adc_chan #(.BITS(NEURON_ADC_BITS), .FS_V(NEURON_ADC_FS_V), .BIPOLAR(NEURON_ADC_BIPOLAR))
          u_adc (.conv(adc_valid), .vin(v),
                 .code(neuron_codes[gi*NEURON_ADC_BITS+:NEURON_ADC_BITS]));
      always @(dump_ports) $dumpvars(0, v);
    end
  endgenerate

  initial begin
    if (ADC_CONV_NS < CLK_PERIOD_NS) begin
      $display("xbar_top: ADC_CONV_NS=%f must be >= CLK_PERIOD_NS=%f", ADC_CONV_NS,
               CLK_PERIOD_NS);
      $finish;
    end
    if (N_IN < 1 || N_HID < 1 || N_OUT < 1 || N_DEV > 65535 || N_IN > 65535
        || N_NEURON > 65535) begin
      $display("xbar_top: N_IN=%0d N_HID=%0d N_OUT=%0d: each must be >= 1 and N_DEV=%0d, N_IN, N_NEURON=%0d <= 65535 (16-bit register windows)",
               N_IN, N_HID, N_OUT, N_DEV, N_NEURON);
      $finish;
    end
  end
endmodule

`default_nettype wire
