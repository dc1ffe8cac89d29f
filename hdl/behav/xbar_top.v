// xbar_top: simulation harness of the crossbar controller (not synthesizable).
//
// Instantiates the synthesizable controller (hdl/xbar_ctrl.v) with behavioural DACs and
// ADCs and generates its own clock.  The port names are a FIXED contract with the analog
// bridge (cosim.bridge) and the cocotb benches; see docs/controller.md.
//
//   digital -> analog (output real): v_prog, v_in0 .. v_in8
//   analog -> digital (input real):  v_sense, v_h0, v_h1, v_h2, v_out
//     written by the bridge at each rising edge of adc_sample and held until the next one.
//
// Every DAC/ADC parameter is a parameter of this module, so benches read it from the DUT
// handle (dut.PULSE_DAC_BITS.value, ...) instead of restating it.
`timescale 1ns / 1ps

module xbar_top #(
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
    output wire [29:0] sel,
    output wire infer_en,
    output wire [4:0] cur_dev,
    output wire adc_sample,
    output real v_prog,
    output real v_in0,
    output real v_in1,
    output real v_in2,
    output real v_in3,
    output real v_in4,
    output real v_in5,
    output real v_in6,
    output real v_in7,
    output real v_in8,
    input real v_sense,
    input real v_h0,
    input real v_h1,
    input real v_h2,
    input real v_out
);
  reg clk = 1'b0;
  always #(CLK_PERIOD_NS / 2.0) clk = ~clk;

  wire pulse_on;
  wire [PULSE_DAC_BITS-1:0] pulse_code;
  wire [9*IN_DAC_BITS-1:0] in_codes;
  wire adc_valid;
  wire [SENSE_ADC_BITS-1:0] sense_code;
  wire [4*NEURON_ADC_BITS-1:0] neuron_codes;

  xbar_ctrl #(
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

  // ---- DACs
  dac_behav #(.BITS(PULSE_DAC_BITS), .FS_V(PULSE_DAC_FS_V), .SIGNED(1)) u_dac_prog (
      .en(pulse_on), .code(pulse_code), .vout(v_prog));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in0 (
      .en(infer_en), .code(in_codes[0*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in0));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in1 (
      .en(infer_en), .code(in_codes[1*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in1));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in2 (
      .en(infer_en), .code(in_codes[2*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in2));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in3 (
      .en(infer_en), .code(in_codes[3*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in3));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in4 (
      .en(infer_en), .code(in_codes[4*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in4));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in5 (
      .en(infer_en), .code(in_codes[5*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in5));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in6 (
      .en(infer_en), .code(in_codes[6*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in6));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in7 (
      .en(infer_en), .code(in_codes[7*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in7));
  dac_behav #(.BITS(IN_DAC_BITS), .FS_V(IN_DAC_FS_V), .SIGNED(0)) u_dac_in8 (
      .en(infer_en), .code(in_codes[8*IN_DAC_BITS+:IN_DAC_BITS]), .vout(v_in8));

  // ---- ADCs: one sample-and-hold command for all five channels, same conversion time
  wire valid_h0, valid_h1, valid_h2, valid_out;
  adc_behav #(.BITS(SENSE_ADC_BITS), .FS_V(SENSE_ADC_FS_V), .BIPOLAR(SENSE_ADC_BIPOLAR),
      .CONV_NS(ADC_CONV_NS)) u_adc_sense (
      .clk(clk), .sample(adc_sample), .vin(v_sense), .code(sense_code), .valid(adc_valid));
  adc_behav #(.BITS(NEURON_ADC_BITS), .FS_V(NEURON_ADC_FS_V), .BIPOLAR(NEURON_ADC_BIPOLAR),
      .CONV_NS(ADC_CONV_NS)) u_adc_h0 (
      .clk(clk), .sample(adc_sample), .vin(v_h0),
      .code(neuron_codes[0*NEURON_ADC_BITS+:NEURON_ADC_BITS]), .valid(valid_h0));
  adc_behav #(.BITS(NEURON_ADC_BITS), .FS_V(NEURON_ADC_FS_V), .BIPOLAR(NEURON_ADC_BIPOLAR),
      .CONV_NS(ADC_CONV_NS)) u_adc_h1 (
      .clk(clk), .sample(adc_sample), .vin(v_h1),
      .code(neuron_codes[1*NEURON_ADC_BITS+:NEURON_ADC_BITS]), .valid(valid_h1));
  adc_behav #(.BITS(NEURON_ADC_BITS), .FS_V(NEURON_ADC_FS_V), .BIPOLAR(NEURON_ADC_BIPOLAR),
      .CONV_NS(ADC_CONV_NS)) u_adc_h2 (
      .clk(clk), .sample(adc_sample), .vin(v_h2),
      .code(neuron_codes[2*NEURON_ADC_BITS+:NEURON_ADC_BITS]), .valid(valid_h2));
  adc_behav #(.BITS(NEURON_ADC_BITS), .FS_V(NEURON_ADC_FS_V), .BIPOLAR(NEURON_ADC_BIPOLAR),
      .CONV_NS(ADC_CONV_NS)) u_adc_out (
      .clk(clk), .sample(adc_sample), .vin(v_out),
      .code(neuron_codes[3*NEURON_ADC_BITS+:NEURON_ADC_BITS]), .valid(valid_out));

  initial begin
    if (ADC_CONV_NS < CLK_PERIOD_NS) begin
      $display("xbar_top: ADC_CONV_NS=%f must be >= CLK_PERIOD_NS=%f", ADC_CONV_NS,
               CLK_PERIOD_NS);
      $finish;
    end
  end
endmodule
